-- The trade-show loop: a house's morning told in steps, something visible
-- changing every few seconds on the meter's face (run it with the
-- terminal UI), at 60x: a virtual minute each real second.
--
--   kpm31c-sim scenarios/demo.lua                    # the show, 3 loops
--   kpm31c-sim scenarios/demo.lua loops=0            # until Ctrl-C
--   kpm31c-sim scenarios/demo.lua --headless --speed max   # CI: checks
--
-- Every step checks what the meter shows, so CI keeps the show honest.

setup{ start = "2026-06-15T06:00", speed = 60 }

local House = require("lib.appliances")
local m = meter(1)
local house = House.new(m)
house:add("standby", 50, 0.6, "C")
house:add("kettle", 2000, 1)
house:add("toaster", 900, 1)
house:add("pv", -3200, 1)
house:add("ev", 7000, 0.99)

local loops = tonumber(arg.loops) or 3

local function step(title, how_long, fn)
    print(string.format("[%s] %s", date():sub(12, 16), title))
    if fn then fn() end
    advance(how_long)
end

local function story()
    step("Morning: the house asleep, standby only", "3m", function()
        house:switch("standby", true)
    end)
    expect.near(m:read("P"), 50, 0.5, "standby 50 W")

    step("The kettle: 2 kW", "3m", function()
        house:switch("kettle", true)
        m:key("down")                   -- the glass shows the current
    end)
    expect.near(m:read("P"), 2050, 2, "kettle on")

    step("Kettle off, toaster on", "3m", function()
        house:switch("kettle", false)
        house:switch("toaster", true)
    end)
    expect.near(m:read("P"), 950, 1, "toaster")

    step("The sun is up: 3.2 kW of PV, exporting", "4m", function()
        house:switch("toaster", false)
        house:switch("pv", true)
        m:key("down")                   -- active power
    end)
    expect.below(m:read("P"), -3000, "exporting")

    step("The car plugs in: 7 kW, now importing again", "4m", function()
        house:switch("ev", true)
    end)
    expect.near(m:read("P"), 7000 * 1 + 50 - 3200, 5, "EV charging")

    step("Power cut!", "3m", function() m:outage() end)
    expect.eq(m:read("U"), 0, "no voltage")

    step("Power is back", "3m", function() m:restore() end)
    expect.near(m:read("U"), 230, 0.1, "voltage back")

    step("An installer fits the CT backwards: power reads negative", "3m",
         function() m:reverse_ct() end)
    expect.below(m:read("P"), 0, "reversed CT")

    step("CT fixed; the car is full", "3m", function()
        m:reverse_ct(false)
        house:switch("ev", false)
        house:switch("pv", false)
        m:key("down", 6)                -- back round to the voltage page
    end)
    expect.near(m:read("P"), 50, 0.5, "back to standby")
end

local n = 0
repeat
    n = n + 1
    story()
until loops > 0 and n >= loops

local e = m:energy()
print(string.format("%d loops: %.2f kWh imported, %.2f kWh exported", n,
                    e.import, e.export))
expect.above(e.export, 0, "some energy went out")
