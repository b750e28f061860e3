-- The trade-show loop: the last day of a month in a house with a
-- prepaid meter, told in captions, each step long enough to read.
-- The tariff follows the clock (valley, sharp, peak, flat), the credit
-- runs out and the relay trips, a top-up closes it, an installer opens
-- the password menu (6666), a Modbus master changes a setting, the month
-- is settled at midnight and the glass shows last month's energy; then a
-- month passes in a second and the story starts again. Three meters on
-- one bus (Tab shows the next).
--
--   kpm31c-sim scenarios/demo.lua                    # the show, forever
--   kpm31c-sim scenarios/demo.lua step=5 loops=2     # 5 s a step, twice
--   kpm31c-sim scenarios/demo.lua --mqtt mqtt://127.0.0.1:1883
--   kpm31c-sim scenarios/demo.lua --headless step=0 loops=1   # CI: checks
--
-- A SCADA master inside the process polls the three meters every 2 s
-- over the Modbus TCP listener (a free loopback port, in the log; --tcp
-- HOST:PORT picks one, where mbpoll can join), so real frames run
-- through the Modbus panel; `poll=0` leaves it out. With --mqtt the
-- uplink publishes.
-- Every step checks what the meter shows, so CI keeps the show honest.

setup{ start = "2026-06-30T05:55", meters = 3, speed = 60,
        tcp = "127.0.0.1:0" }

-- A NAME=VALUE word of the command line: a number in lo..hi (whole when
-- asked; when least is given, 0 or at least that), else an error that
-- names it (exit 2, never a silent default)
local function param(name, default, lo, hi, whole, what, least)
    local v = arg[name]
    if v == nil then return default end
    if type(v) ~= "number" or v ~= v or v < lo or v > hi or
            (whole and v % 1 ~= 0) or (least and v > 0 and v < least) then
        error(string.format("%s=%s: %s", name, tostring(v), what),
              0)
    end
    return v
end

local STEP = param("step", 10, 0, 3600, false,
    "real seconds a step shows, 0..3600 (0: no pause)")
local loops = param("loops", 0, 0, 1e6, true,
    "how many times the story runs, a whole number (0: until Ctrl-C)")
local POLL = param("poll", 2, 0, 3600, false,
    "real seconds between Modbus polls, 0 (no poller) or 0.05..3600", 0.05)

local House = require("lib.appliances")
local m = meter(1)
local house = House.new(m)
house:add("standby", 50, 0.6, "C")
house:add("kettle", 2000, 1)
house:add("pv", -3200, 1)
house:add("ev", 7000, 0.99)

-- the neighbours on the same bus: a flat and a small shop
meter(2):load{ U = 230, P = 400, PF = 0.9 }
meter(3):load{ U = 230, P = 2500, PF = 0.85 }

-- a SCADA master reads U..F and the energies of each meter (--tcp off:
-- no listener, no poller)
if POLL > 0 and modbus.listening() then
    modbus.poll{ every = POLL, slave = { 1, 2, 3 } }
end


local events = { settled = 0, tripped = 0 }
on_settlement(function(mm, t)
    if mm:index() == 1 then events.settled = events.settled + 1 end
end)
on("relay", function(mm, state)
    if mm:index() == 1 and state == "open" then
        events.tripped = events.tripped + 1
    end
end)

-- One step: a caption, then virtual time to `to` (a time or, with a
-- leading "+", a duration), shown over STEP real seconds.
local function step(text, to, fn)
    local t = type(to) == "string" and to:sub(1, 1) == "+" and
              now() + duration(to:sub(2)) or time(to)
    -- the caption bar shows it, and the log keeps it ("caption: ...")
    caption(string.format("%s  %s", date():sub(12, 16), text))
    if fn then fn() end
    if STEP > 0 then speed(math.max(1, (t - now()) / STEP)) else
        speed("max") end
    run_until(t)
end

-- "2026-06-30T06:00" for hh:mm on day d (0: today) of the story
local function on_day(d, hhmm)
    return date(now() + d * 86400):sub(1, 11) .. hhmm
end

local function keys(k, n) m:key(k, n) end

local function password(code)              -- hold <-, then the digits
    keys("left", "long")
    for k = 1, #code do
        local digit = tonumber(code:sub(k, k))
        if k > 1 then keys("left") end      -- the next digit
        if digit > 0 then keys("down", digit) end
    end
    keys("enter")
end

local function story()
    local settled = events.settled
    house:switch("standby", true)
    step("Night: standby only, the valley rate (T4)", on_day(0, "05:59:50"))
    expect.eq(m:rate(), "valley", "night: valley")

    step("06:00: the tariff switches to sharp (T1)", on_day(0, "06:03"))
    expect.eq(m:rate(), "sharp", "morning: sharp")

    step("Breakfast: the kettle, 2 kW", "+10m", function()
        house:switch("kettle", true)
        keys("down", 2)                     -- the glass shows P
    end)
    expect.near(m:read("P"), 2050, 2, "kettle on")

    step("The sun is up: 3.2 kW of PV, exporting", on_day(0, "10:05"),
         function()
        house:switch("kettle", false)
        house:switch("pv", true)
    end)
    expect.below(m:read("P"), -3000, "exporting")
    expect.eq(m:rate(), "peak", "10:00: peak (T2)")

    step("Afternoon: the flat rate (T3) from 15:00, the PV fades",
         on_day(0, "15:00:30"))
    expect.eq(m:rate(), "flat", "15:00: flat (T3)")

    step("A prepaid meter: 0.5 kWh of credit, and the car plugs in (7 kW)",
         "+6m", function()
        m:prepaid{ on = true, credit = "0.5kWh", alarm = "0.2kWh" }
        house:switch("pv", false)
        house:switch("ev", true)
        keys("down", 6)                     -- P on to C, the credit page
    end)
    local state, why = m:relay()
    expect.eq(state, "open", "credit used up: the relay tripped")
    expect.eq(why[1], "credit", "tripped for credit")
    expect.eq(m:read("I"), 0, "no current through an open relay")

    step("Credit gone: the relay is open, the house is dark", "+5m")

    step("A top-up of 20 kWh closes the relay", "+10m", function()
        m:topup("20kWh")
    end)
    expect.eq(m:relay(), "closed", "topped up: closed again")
    expect.near(m:read("P"), 7050, 10, "charging again")

    step("An installer holds <- 3 s and enters the password 6666", "+2m",
         function()
        password("6666")
        expect(m:lcd():find("Addr"), "the set-up menu: the slave address")
    end)

    step("A Modbus master sets 4800 baud (FC06), then 9600 again", "+2m",
         function()
        keys("left")                        -- the set-up menu: End ...
        keys("enter")                       -- ... leaves it
        expect(modbus.write(1, 0x1101, 4800).ok, "baud 4800 written")
        expect.eq(m:read(0x1101, "u16"), 4800, "the meter took 4800")
        expect(modbus.write(1, 0x1101, 9600).ok, "baud 9600 written")
    end)

    step("The car is full; evening, the valley rate from 23:00",
         on_day(0, "23:05"), function()
        house:switch("ev", false)
    end)
    expect.eq(m:rate(), "valley", "23:00: valley (T4)")

    step("Midnight: the month is settled; the glass shows last month",
         on_day(1, "00:03"))
    keys("enter")                           -- the energy pages
    keys("left", 2)                         -- LAST kWh
    local _, icons = m:lcd()
    expect(table.concat(icons, " "):find("last"), "the history page")
    expect.eq(events.settled, settled + 1, "one settlement")
    expect.above(m:month(1).active, 0, "last month's energy kept")
    step("Last month's energy on the glass (LAST kWh)", "+3m")

    keys("enter", 2)                        -- clock, then U again
    m:prepaid{ on = false }
    caption("A month passes in a second ...")
    -- a month of telemetry in a second would overflow every queue: the
    -- uplinks that publish (--mqtt) pause meanwhile (4g_M Debug)
    local publishing = {}
    for k = 1, 3 do
        if meter(k):read(0x1104, "u16") == 1 then
            publishing[k] = meter(k):write(0x1104, 0)
        end
    end
    speed("max")
    -- to 05:55 on the last day of this month: the day before the 1st of
    -- the next
    local last = time(date(now() + 32 * 86400):sub(1, 8) .. "01") - 86400
    run_until(date(last):sub(1, 11) .. "05:55")
    for k in pairs(publishing) do meter(k):write(0x1104, 1) end
    house:switch("standby", false)
end

local n = 0
repeat
    n = n + 1
    story()
until loops > 0 and n >= loops

caption("")
print(string.format("%d loop(s): %d settlement(s), %d trip(s), %.2f kWh "
                    .. "imported", n, events.settled, events.tripped,
                    m:energy().import))
expect.eq(events.tripped, n, "one trip a loop")
