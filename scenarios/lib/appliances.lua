-- Appliances behind one meter. Each draws an active power at a power
-- factor; the meter sees their sum, added as phasors (P and Q add, the
-- current follows S). The house also integrates its own power over time,
-- so a scenario can compare the meter's energy with what was drawn.
--
--   local House = require("lib.appliances")
--   local house = House.new(meter(1))
--   house:add("fridge", 150, 0.8)          -- W, PF lagging
--   house:add("tv", 80, 0.6, "C")          -- a leading PF
--   house:switch("fridge", true)
--   advance("1h")
--   print(house:energy_kwh())

local House = {}
House.__index = House

function House.new(m, U)
    return setmetatable({
        meter = m, U = U or 230,
        names = {}, spec = {}, on = {},
        wh = 0, p = 0, since = nil,
    }, House)
end

-- P in W (negative: a generator), PF 0..1, lead "C" for a leading current
function House:add(name, P, PF, lead)
    assert(not self.spec[name], "appliance " .. name .. " added twice")
    self.names[#self.names + 1] = name      -- a fixed order: same sums
    self.spec[name] = { P = P, PF = PF or 1, lead = lead == "C" }
    self.on[name] = false
    return self
end

-- the totals of what is on: P (W) and Q (var)
function House:power()
    local P, Q = 0, 0
    for _, name in ipairs(self.names) do
        if self.on[name] then
            local s = self.spec[name]
            local q = math.abs(s.P) * math.tan(math.acos(s.PF))
            P = P + s.P
            Q = Q + (s.lead and -q or q)
        end
    end
    return P, Q
end

function House:tally()
    local t = now()
    if self.since then
        self.wh = self.wh + math.abs(self.p) * (t - self.since) / 3600
    end
    self.since = t
end

function House:apply()
    self:tally()
    local P, Q = self:power()
    self.p = P
    local S = math.sqrt(P * P + Q * Q)
    if S < 1e-9 then
        self.meter:load{ U = self.U, I = 0, PF = 1 }
    else
        self.meter:load{ U = self.U, I = S / self.U,
                         angle = math.deg(math.atan(Q, P)) }
    end
end

function House:switch(name, state)
    assert(self.spec[name], "no appliance " .. tostring(name))
    self.on[name] = state
    self:apply()
end

-- on for a while, then off again (the scenario goes on meanwhile)
function House:run(name, how_long)
    self:switch(name, true)
    after(how_long, function() self:switch(name, false) end)
end

-- what the appliances drew so far, kWh (import and export alike, as the
-- meter's total with the factory combination import + export)
function House:energy_kwh()
    self:tally()
    return self.wh / 1000
end

return House
