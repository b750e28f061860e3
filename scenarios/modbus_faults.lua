-- Modbus faults for SCADA robustness: a SCADA master polls the meter every
-- 10 s while the port misbehaves on purpose: busy answers, lost requests,
-- slow replies, for a while each. Checks how often each fault hits (seeded:
-- the same --seed gives the same faults), that every answer that does come
-- carries the right values, and that the meter's metering never notices.
--
-- The poller here is the scenario's own (modbus.read goes through the same
-- fault rules as the transports). Run with --tcp 127.0.0.1:1502 and point
-- a real SCADA at it as well: it meets the same faults, and --speed 1
-- gives it real time.
--
--   kpm31c-sim scenarios/modbus_faults.lua --headless --speed max

setup{ start = "2026-05-04T06:00" }

local m = meter(1)
m:load{ U = 230, I = 10, PF = 0.9 }

local polls = {}
local function tally(phase)
    polls[phase] = polls[phase] or { n = 0, ok = 0, busy = 0, lost = 0,
                                     slow = 0, wrong = 0 }
    return polls[phase]
end

-- U and I as a master reads them: 0x0030, 4 registers, float32 ABCD
local function float_of(hi, lo)
    return string.unpack(">f", string.pack(">I2I2", hi, lo))
end

local phase = "clean"
every("10s", function()
    local t = tally(phase)
    local r = modbus.read(1, 0x30, 4)
    t.n = t.n + 1
    if r.ok then
        t.ok = t.ok + 1
        if r.delay > 0 then t.slow = t.slow + 1 end
        local u, i = float_of(r.regs[1], r.regs[2]), float_of(r.regs[3], r.regs[4])
        if math.abs(u - 230) > 0.05 or math.abs(i - 10) > 0.01 then
            t.wrong = t.wrong + 1
        end
    elseif r.exception == 6 then
        t.busy = t.busy + 1
    elseif r.lost then
        t.lost = t.lost + 1
    end
end)

-- an hour of each: clean, then busy 20 %, then lost 10 % with slow replies
advance("1h")
phase = "busy"
fault.modbus("busy,slave=1,p=0.2", "1h")
advance("1h")
phase = "lossy"
local lossy = fault.modbus("noreply,p=0.1")
local slow = fault.modbus("delay=800,addr=0x30-0x3d,p=0.5")
print("faults: " .. tostring(lossy) .. ", " .. tostring(slow))
advance("1h")
lossy:remove()
slow:remove()
phase = "after"
advance("1h")

-- 360 polls an hour; the bounds are 5 standard deviations wide
local c, b, l, a = polls.clean, polls.busy, polls.lossy, polls.after
check("no faults", function()
    expect.eq(c.n, 360, "360 polls in the first hour")
    expect.eq(c.ok, c.n, "all answered")
end)
check("busy 20 %", function()
    expect.within(b.busy, 72 - 38, 72 + 38, "about 72 busy answers")
    expect.eq(b.ok + b.busy, b.n, "the rest answered")
end)
check("lost 10 %, slow 50 %", function()
    expect.within(l.lost, 36 - 28, 36 + 28, "about 36 lost requests")
    expect.within(l.slow, 162 - 45, 162 + 45, "about half the answers slow")
    expect.eq(l.ok + l.lost, l.n, "the rest answered")
end)
check("faults removed", function()
    expect.eq(a.ok, a.n, "all answered again")
end)
local wrong = c.wrong + b.wrong + l.wrong + a.wrong
expect.eq(wrong, 0, "every answer carried the right values")
expect.near(m:read("kWh"), 0.230 * 10 * 0.9 * 4, 0.001,
            "metering went on through the faults, kWh")
print(string.format("busy %d/%d, lost %d/%d, slow %d/%d (fault hits %d)",
                    b.busy, b.n, l.lost, l.n, l.slow, l.ok, fault.hits()))
