-- Twelve months of billing in seconds: a household's daily shape (24
-- hourly multipliers, like an OpenDSS load shape), scaled by season, for
-- a whole year. At every monthly settlement the month just frozen into
-- "previous 1" must equal what the meter counted that month, rate by
-- rate; at the end the twelve months of history must all be there.
--
--   kpm31c-sim scenarios/billing_year.lua --headless --speed max

setup{ start = "2026-01-01T00:00" }

local m = meter(1)

-- a day's shape: night, breakfast, day, dinner peak, evening
local day = { 0.3, 0.25, 0.25, 0.25, 0.3, 0.5, 0.9, 1.2, 0.8, 0.6, 0.6, 0.7,
              0.9, 0.7, 0.6, 0.6, 0.8, 1.3, 1.6, 1.4, 1.1, 0.9, 0.6, 0.4 }
-- amperes at multiplier 1, by month: more in winter (heating, light)
local season = { 9, 8, 7, 5.5, 4.5, 4, 4, 4.2, 5, 6.5, 8, 9 }

local month = 1
m:profile{ shape = day, U = 230, I = season[month], PF = 0.92 }

local rates = { "sharp", "peak", "flat", "valley" }
local last = m:energy()             -- lifetime counters at the month start
local months = {}                   -- what each month counted, oldest first

on_settlement(function(mm, when)
    local now_e = mm:energy()
    local counted = { active = now_e.total - last.total }
    for _, r in ipairs(rates) do counted[r] = now_e[r] - last[r] end
    months[#months + 1] = counted
    last = now_e

    local prev = mm:month(1)
    check("settled " .. date(when):sub(1, 7), function()
        expect.near(prev.active, counted.active, 0.01,
                    "previous 1 = the month's consumption, kWh")
        for _, r in ipairs(rates) do
            expect.near(prev[r], counted[r], 0.01, r .. " of the month")
        end
        expect.eq(mm:month(0).active, 0, "the new month starts empty")
    end)

    month = month % 12 + 1
    m:profile{ shape = day, I = season[month] }
end)

run_until("2027-01-01T00:00")

expect.eq(#months, 12, "twelve settlements")
check("twelve months of history", function()
    for n = 1, 12 do
        local h, want = m:month(n), months[13 - n]
        expect.near(h.active, want.active, 0.01, "previous " .. n)
    end
end)
local sum = 0
for _, c in ipairs(months) do sum = sum + c.active end
expect.near(m:read("kWh"), sum, 0.05, "the months add up to the year")
-- winter months use more than summer ones
expect.above(months[1].active, 1.8 * months[7].active,
             "January over July")
print(string.format("year: %.1f kWh; January %.1f, July %.1f", sum,
                    months[1].active, months[7].active))
