-- Month-end settlement with a power outage across midnight: 2 kW from
-- 18:00 on 31 January, the voltage gone from 23:30 to 00:30. The meter's
-- clock runs on its battery through the outage, settles January at 00:00
-- on 1 February, and February starts empty until the power is back.
--
--   kpm31c-sim scenarios/month_end_outage.lua --headless --speed max

setup{ start = "2026-01-31T18:00" }

local m = meter(1)
m:load{ U = 230, P = 2000, PF = 1 }

local settlements = {}
on_settlement(function(mm, when)
    settlements[#settlements + 1] = date(when)
    -- right after the settlement: January frozen, February empty
    check("January settled at midnight", function()
        expect.eq(date(when), "2026-02-01T00:00:00", "the month that ended")
        expect.near(mm:month(1).active, 11, 0.005,
                    "previous 1 = 5.5 h at 2 kW, kWh")
        expect.near(mm:month(1).flat, 10, 0.005, "18:00-23:00 flat, kWh")
        expect.near(mm:month(1).valley, 1, 0.005, "23:00-23:30 valley, kWh")
        expect.eq(mm:month(0).active, 0, "February starts empty")
        expect.near(mm:read(0x1010), 2000, 1,
                    "January's maximum demand moved to 'previous month', VA")
    end)
end)

at("23:30", function() m:outage("1h") end)

at("23:45", function()
    check("outage", function()
        local x = m:measure()
        expect.eq(x.U, 0, "no voltage")
        expect.eq(x.I, 0, "no current")
        expect.eq(x.P, 0, "no power")
        expect.eq(x.F, 0, "no frequency to measure")
    end)
end)

at("01:00", function()
    expect.near(m:read("P"), 2000, 1, "the load is back after the outage")
end)

run_until("2026-02-01T06:00")

expect.eq(#settlements, 1, "one settlement")
check("February so far", function()
    expect.near(m:month(0).active, 11, 0.005, "00:30-06:00 at 2 kW, kWh")
    expect.near(m:month(0).valley, 11, 0.005, "all of it valley")
    expect.near(m:month(1).active, 11, 0.005, "January still previous 1")
end)
expect.near(m:read("kWh"), 22, 0.005, "lifetime: nothing counted in the "
            .. "outage, kWh")
