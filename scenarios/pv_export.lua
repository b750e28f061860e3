-- Rooftop PV exporting at noon: 5 kWp on a house with a 400 W base load,
-- a clear June day read from a CSV file. The meter sees the net: import at
-- night, export around noon. Checks the direction, the power factor sign,
-- and the import and export registers against the day's shape.
--
--   kpm31c-sim scenarios/pv_export.lua --headless --speed max

setup{ start = "2026-06-15T00:00" }

local m = meter(1)
local KWP, BASE_KW = 5, 0.4

-- the net power through the meter, kW, hour by hour: house minus PV
local pv = csv("data/pv_june.csv"):column("kw_per_kwp")
local net = {}
for h, x in ipairs(pv) do net[h] = BASE_KW - KWP * x end

-- P = 1000 W per unit of the shape: the shape is in kW; a negative value
-- exports. smooth: interpolated minute by minute between the hours.
m:profile{ shape = net, P = 1000, PF = 1, smooth = true, step = "1m" }

-- what the meter should count: the same minute steps, integrated here
local function expected()
    local imp, exp = 0, 0
    for k = 0, 24 * 60 - 1 do
        local h, frac = k // 60, (k % 60) / 60
        local kw = net[h + 1] + (net[(h + 1) % 24 + 1] - net[h + 1]) * frac
        if kw > 0 then imp = imp + kw / 60 else exp = exp - kw / 60 end
    end
    return imp, exp
end

at("02:00:30", function()
    expect.near(m:read("P"), BASE_KW * 1000, 0.5, "night: the base load")
end)

at("12:30:30", function()
    local kw = BASE_KW - KWP * (pv[13] + (pv[14] - pv[13]) * 0.5)
    check("exporting at noon", function()
        expect.near(m:read("P"), kw * 1000, "0.1%", "P, W (negative)")
        expect.near(m:read("PF"), -1, 0.001, "PF -1: unity, exporting")
        expect.below(m:read("P"), -3000, "over 3 kW out")
    end)
end)

run_until("2026-06-16T00:00")

local imp, exp = expected()
local e = m:energy()
expect.near(e.import, imp, 0.005, "import, kWh")
expect.near(e.export, exp, 0.005, "export, kWh")
expect.near(e.total, imp + exp, 0.01, "total = import + export (factory)")

-- a utility that bills the net: the active combination word 0x1106 = 0x09
-- (import - export), written as a Modbus master would
must(m:write(0x1106, 0x09), "combination word written")
expect.near(m:read("kWh"), imp - exp, 0.01, "net total after 0x1106 = 0x09")
print(string.format("import %.2f kWh, export %.2f kWh, net %.2f kWh",
                    e.import, e.export, e.import - e.export))
