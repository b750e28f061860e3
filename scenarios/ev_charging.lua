-- An electric car charged overnight at 7 kW, timed to the valley rate
-- (23:00-06:00 in the factory schedule), on top of the house's base load.
-- Checks that the whole charge lands in the valley rate and what the
-- meter shows while charging.
--
--   kpm31c-sim scenarios/ev_charging.lua --headless --speed max

setup{ start = "2026-01-12T18:00" }

local House = require("lib.appliances")
local m = meter(1)
local house = House.new(m)

local BASE_W, EV_W = 350, 7000
house:add("base", BASE_W, 0.9)
house:add("ev", EV_W, 0.99)         -- on-board charger, near unity PF
house:switch("base", true)

-- the car is plugged in at 19:30; the charger waits for the valley rate
-- and stops when the battery has its 42 kWh (6 hours)
at("23:00", function()
    expect.eq(m:rate(), "valley", "the charge starts in the valley rate")
    house:run("ev", "6h")
end)

at("23:30", function()
    local P, Q = house:power()
    check("charging", function()
        expect.near(m:read("P"), P, "0.1%", "7.35 kW while charging")
        expect.near(m:read("I"), math.sqrt(P * P + Q * Q) / 230, "0.1%",
                    "the current, A")
        expect.eq(m:rate(), "valley", "valley rate")
    end)
end)

at("05:30", function()
    expect.near(m:read("P"), BASE_W, 0.5, "the charge is over by 05:30")
end)

run_until("2026-01-13T08:00")

local e = m:energy()
local base_kwh = BASE_W / 1000
check("rates", function()
    -- 18:00-23:00 flat, 23:00-06:00 valley, 06:00-08:00 sharp
    expect.near(e.flat, 5 * base_kwh, 0.005, "flat: the evening's base")
    expect.near(e.valley, 7 * base_kwh + 42, 0.05,
                "valley: the night's base and the whole charge")
    expect.near(e.sharp, 2 * base_kwh, 0.005, "sharp: the morning's base")
    expect.eq(e.peak, 0, "no peak hours in this run")
end)
expect.near(e.total, house:energy_kwh(), "0.1%", "the meter's total")
expect.within(m:read("max_demand"), 7300, 7500,
              "the demand peak is the charger and the house, VA")
print(string.format("night: %.2f kWh valley of %.2f kWh", e.valley, e.total))
