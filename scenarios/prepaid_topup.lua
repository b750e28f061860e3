-- Prepaid credit running out and a top-up: 3 kWh of credit, a 1.5 kW
-- load. The low-credit alarm comes on at 1 kWh, the relay opens when the
-- credit is used up (no current flows: the meter still sees the voltage),
-- a remote close is refused while there is no credit, and a top-up closes
-- the relay again.
--
--   kpm31c-sim scenarios/prepaid_topup.lua --headless --speed max

setup{ start = "2026-02-10T08:00" }

local m = meter(1)
m:load{ U = 230, P = 1500, PF = 1 }
m:prepaid{ on = true, credit = "3kWh", alarm = "1kWh" }

local relay = {}
on("relay", function(mm, state)
    relay[#relay + 1] = { state = state, at = now() }
end)

local function alarm() return m:read(0x100A, "u16") & 2 ~= 0 end

advance("1h")
check("an hour in", function()
    expect.near(m:credit(), 1500, 2, "1.5 kWh left, Wh")
    expect.eq(alarm(), false, "no low-credit alarm yet")
    expect.eq(m:relay(), "closed", "relay closed")
end)

advance("30m")
expect.eq(alarm(), true, "low-credit alarm at 0.75 kWh left")

-- 3 kWh at 1.5 kW: the credit is gone at 10:00
run_until("2026-02-10T10:05")
check("credit used up", function()
    local state, why = m:relay()
    expect.eq(state, "open", "the relay opened")
    expect.eq(why[1], "credit", "because of the credit")
    expect.eq(m:credit(), 0, "no credit left")
    expect.eq(m:read("I"), 0, "no current through an open relay")
    expect.near(m:read("U"), 230, 0.1, "the voltage is still measured")
    expect.eq(#relay, 1, "one relay event")
    expect.within(relay[1].at, time("2026-02-10T10:00:00"),
                  time("2026-02-10T10:00:02"), "it opened at 10:00")
end)

local ok, why = m:relay("close")
expect.eq(ok, false, "a remote close is refused without credit")
print("remote close: " .. tostring(why))

-- a top-up of 5 kWh at 10:30, as the utility's system would send it
at("10:30", function() m:topup("5kWh") end)
advance("30m")
advance("1s")
check("after the top-up", function()
    expect.eq(m:relay(), "closed", "closed again")
    expect.eq(relay[2] and relay[2].state, "closed", "a relay event for it")
    expect.near(m:read("P"), 1500, 1, "the load runs again")
    expect.eq(alarm(), false, "no alarm with 5 kWh")
end)

run_until("2026-02-10T12:30")
expect.near(m:credit(), 5000 - 1500 * 2, 3, "two more hours used, Wh")
expect.near(m:read("import_kWh"), 3 + 3, 0.01, "6 kWh through the meter")
