-- A harmonic-rich load: LED drivers and switched-mode power supplies
-- (capacitor-input rectifiers) draw a peaky current, rich in odd
-- harmonics, slightly leading. The meter's true RMS, active power (all
-- harmonics), fundamental reactive power Q1 and PF = P/S must follow the
-- definitions of docs/metrology.md.
--
--   kpm31c-sim scenarios/led_smps.lua --headless --speed max

setup{ start = "2026-04-01T08:00" }

local m = meter(1)
local U, I1, PF1 = 230, 6, 0.95           -- fundamental: 6 A, PF 0.95 leading
local H = { [3] = 85, [5] = 65, [7] = 45, [9] = 28, [11] = 15, [13] = 8 }

m:load{ U = U, I = I1, PF = PF1 .. "C", harmonics = H }

-- what the definitions give for a clean voltage
local sum2 = 0
for _, h in ipairs({ 3, 5, 7, 9, 11, 13 }) do sum2 = sum2 + (H[h] / 100) ^ 2 end
local phi = -math.deg(math.acos(PF1))     -- the current leads
local irms = I1 * math.sqrt(1 + sum2)
local p = U * I1 * PF1                    -- harmonics carry no power here
local q1 = U * I1 * math.sin(math.rad(phi))
local s = U * irms

advance("1m")
check("clean voltage", function()
    expect.near(m:read("I"), irms, "0.1%", "true RMS current, A")
    expect.near(m:read("P"), p, "0.1%", "active power, W")
    expect.near(m:read("Q"), q1, "0.2%", "fundamental reactive power, var")
    expect.below(m:read("Q"), 0, "leading: Q < 0")
    expect.near(m:read("S"), s, "0.1%", "apparent power, VA")
    expect.near(m:read("PF"), p / s, 0.002, "PF = P/S")
end)
print(string.format("THD(I) %.0f %%, PF %.3f against a displacement PF of "
                    .. "%.2f", 100 * math.sqrt(sum2), m:read("PF"), PF1))

-- the grid's own distortion: 3 % 5th harmonic in the voltage. Now the 5th
-- harmonic carries power: V5 x I5 x cos(phase of V5 - phase of I5), where
-- the current's harmonic h sits at -h x phi (docs/metrology.md)
local v5 = 3
m:load{ harmonics = { [3] = 85, [5] = { I = 65, V = v5 }, [7] = 45,
                      [9] = 28, [11] = 15, [13] = 8 } }
advance("1m")
local p5 = (U * v5 / 100) * (I1 * 0.65) * math.cos(math.rad(5 * phi))
check("distorted voltage", function()
    expect.near(m:read("U"), U * math.sqrt(1 + (v5 / 100) ^ 2), "0.05%",
                "true RMS voltage, V")
    expect.near(m:read("P"), p + p5, "0.1%", "P includes the 5th's power")
    expect.near(m:read("F"), 50, 0.002, "frequency through the distortion")
end)

-- an hour of it: the energy is the active power's (a minute clean, then
-- an hour distorted)
run_until("2026-04-01T09:01")
expect.near(m:read("kWh"), (p / 60 + (p + p5)) / 1000, "0.1%", "energy, kWh")
