-- A household day: standby all day, a fridge cycling, breakfast and dinner
-- peaks, a washing machine. Checks the meter against what the appliances
-- drew, the night and evening readings, the rates and the demand peak.
--
--   kpm31c-sim scenarios/household_day.lua --headless --speed max

setup{ start = "2026-03-02T00:00" }

local House = require("lib.appliances")
local m = meter(1)
local house = House.new(m)

house:add("standby", 45, 0.5, "C")      -- chargers, routers: leading
house:add("fridge", 120, 0.75)          -- compressor motor
house:add("lights", 180, 0.95)
house:add("kettle", 2000, 1)
house:add("hob", 1800, 1)
house:add("oven", 2400, 1)
house:add("washer", 500, 0.7)           -- drum motor
house:add("washer_heater", 2000, 1)

house:switch("standby", true)

-- the fridge: 12 minutes on in every 45, from 00:05
every("45m", function() house:run("fridge", "12m") end,
      "2026-03-02T00:05")

local day = {
    { "06:30", "lights", "1h" },
    { "07:00", "kettle", "4m" },
    { "07:10", "hob", "15m" },
    { "10:00", "washer", "90m" },
    { "10:10", "washer_heater", "20m" },
    { "12:00", "hob", "40m" },
    { "18:00", "lights", "5h" },
    { "18:30", "hob", "50m" },
    { "18:40", "oven", "50m" },
}
for _, e in ipairs(day) do
    at(e[1], function() house:run(e[2], e[3]) end)
end

-- night: only standby (the fridge is off at 03:00)
at("03:00:30", function()
    check("standby at night", function()
        expect.near(m:read("P"), 45, 0.5, "45 W of standby")
        expect.near(m:read("PF"), 0.5, 0.01, "its power factor")
        expect.below(m:read("Q"), 0, "a leading load: Q < 0")
    end)
end)

-- the fridge starts at 03:05
at("03:10", function()
    local P, Q = house:power()
    check("fridge running", function()
        expect.near(m:read("P"), P, 0.5, "fridge and standby, W")
        expect.near(m:read("Q"), Q, 0.5, "their reactive power, var")
    end)
end)

-- dinner: hob, oven, lights, standby (and the fridge, some of the time)
at("19:00:30", function()
    local P = house:power()
    expect.near(m:read("P"), P, "0.2%", "the evening peak, W")
    expect.above(m:read("I"), 19, "over 19 A at the evening peak")
end)

run_until("2026-03-03T00:00")

local e = m:energy()
expect.near(e.total, house:energy_kwh(), "0.2%",
            "the meter counts what the appliances drew")
expect.near(e.sharp + e.peak + e.flat + e.valley, e.total, 0.001,
            "the rates add up to the total")
expect.eq(e.export, 0, "nothing exported")
expect.within(m:read("max_demand"), 4300, 5000,
              "the demand peak (VA) is dinner's")
print(string.format("day: %.3f kWh (sharp %.3f, peak %.3f, flat %.3f, "
                    .. "valley %.3f), max demand %.0f VA", e.total, e.sharp,
                    e.peak, e.flat, e.valley, m:read("max_demand")))
