-- The Lua half of the scenario API (docs/scenarios.md), run once in every
-- scenario's state before the script. Embedded in the binary at build time
-- (sim/scenario/scenario_embed.py). Gets the private table of C functions, whether
-- the sandbox is off, the scenario's directory and the seed.
--
-- Locations: C finds "file:line" by skipping this chunk's frames ("prelude"),
-- so errors and results name the script's line, not ours. Iteration here
-- never depends on pairs() order (it varies between runs in Lua 5.4).

local api, unsafe, dir, seed = ...

local type, tostring, tonumber, select = type, tostring, tonumber, select
local error, pcall, xpcall, ipairs = error, pcall, xpcall, ipairs
local setmetatable, rawget = setmetatable, rawget
local format, floor, abs = string.format, math.floor, math.abs

-- math.random follows --seed (or setup{seed}); randomseed() with no
-- argument would read the clock, so it takes the run's seed instead
do
    local randomseed = math.randomseed
    math.randomseed = function(x, ...)
        if x == nil then x = seed end
        return randomseed(x, ...)
    end
end

-- the marker a failed must() or stop() unwinds the script with
local STOP = setmetatable({}, { __name = "scenario stop" })

local function show(v)
    if math.type(v) == "float" then
        return format("%.10g", v)
    elseif type(v) == "string" then
        return format("%q", v)
    end
    return tostring(v)
end

-- an error at the caller of the API function that calls this
local function fail_at(msg)
    error(api.where() .. " " .. msg, 0)
end

local function record(ok, name, detail, stop)
    if type(name) == "number" then
        name = tostring(name)
    elseif type(name) ~= "string" then
        fail_at("the name of a check (its last argument) must be a string, "
            .. "got " .. type(name))
    end
    api.record(ok, name, detail)
    if not ok and (stop or api.fail_fast()) then
        api.stop()
        error(STOP, 0)
    end
    return ok
end

-- expect.* records and goes on; must.* stops the scenario on a failure
local function assertions(kind, stop)
    local t = {}

    local function num(v) return type(v) == "number" and v == v end

    function t.eq(actual, expected, msg)
        return record(actual == expected, msg or kind .. ".eq",
            format("got %s, expected %s", show(actual), show(expected)), stop)
    end

    function t.ne(actual, other, msg)
        return record(actual ~= other, msg or kind .. ".ne",
            format("got %s, expected anything else", show(actual)), stop)
    end

    function t.near(actual, expected, tol, msg)
        if not num(expected) then
            fail_at(kind .. ".near(actual, expected, tolerance): expected "
                .. "must be a number")
        end
        local abs_tol
        if type(tol) == "string" then
            local pct = tol:match("^%s*([%d%.]+)%s*%%%s*$")
            if not pct or not tonumber(pct) then
                fail_at(kind .. ".near: tolerance " .. show(tol)
                    .. " is not a number or a percentage such as '0.5%'")
            end
            abs_tol = abs(expected) * tonumber(pct) / 100
        elseif num(tol) and tol >= 0 then
            abs_tol = tol
        else
            fail_at(kind .. ".near: tolerance must be a number >= 0 or a "
                .. "percentage such as '0.5%'")
        end
        if not num(actual) then
            return record(false, msg or kind .. ".near",
                format("got %s, expected %s ± %s", show(actual),
                    show(expected), show(tol)), stop)
        end
        local off = actual - expected
        return record(abs(off) <= abs_tol, msg or kind .. ".near",
            format("got %s, expected %s ± %s (off by %s)", show(actual),
                show(expected), show(tol), show(off)), stop)
    end

    function t.within(actual, lo, hi, msg)
        if not num(lo) or not num(hi) or lo > hi then
            fail_at(kind .. ".within(actual, lo, hi): lo and hi are numbers, "
                .. "lo <= hi")
        end
        return record(num(actual) and actual >= lo and actual <= hi,
            msg or kind .. ".within",
            format("got %s, expected %s .. %s", show(actual), show(lo),
                show(hi)), stop)
    end

    function t.above(actual, limit, msg)
        return record(num(actual) and actual > limit, msg or kind .. ".above",
            format("got %s, expected more than %s", show(actual),
                show(limit)), stop)
    end

    function t.below(actual, limit, msg)
        return record(num(actual) and actual < limit, msg or kind .. ".below",
            format("got %s, expected less than %s", show(actual),
                show(limit)), stop)
    end

    function t.error(fn, pattern, msg)
        local ok, err = pcall(fn)
        if ok then
            return record(false, msg or kind .. ".error",
                "no error was raised", stop)
        end
        err = tostring(err)
        if pattern and not err:find(pattern) then
            return record(false, msg or kind .. ".error",
                format("the error %s does not match %s", show(err),
                    show(pattern)), stop)
        end
        return record(true, msg or kind .. ".error", nil, stop)
    end

    return setmetatable(t, {
        __call = function(_, cond, msg)
            return record(not not cond, msg or kind,
                "the condition is " .. show(cond), stop)
        end,
    })
end

expect = assertions("expect", false)
must = assertions("must", true)

-- one case for a group of expectations, or an error inside them
function check(name, fn)
    if type(name) ~= "string" or type(fn) ~= "function" then
        fail_at("check(name, function): a name and a function")
    end
    api.check_begin(name)
    local ok, err = xpcall(fn, api.traceback)
    local stopped = not ok and err == STOP
    local passed = api.check_end(ok or stopped,
        (not ok and not stopped) and tostring(err) or nil)
    if stopped then error(STOP, 0) end
    return passed
end

function pass(msg) return record(true, msg or "pass") end
function fail(msg) return record(false, msg or "fail", msg or "fail()") end

-- end the scenario here (what failed so far still counts)
function stop(msg)
    if msg ~= nil then print(msg) end
    api.stop()
    error(STOP, 0)
end

function on_settlement(fn) return on("settlement", fn) end

-- ---- several meters at once ----

local Group = {}
local group_mt = {}

group_mt.__index = function(g, key)
    local own = rawget(Group, key)
    if own then return own end
    if type(key) ~= "string" then return nil end
    -- any meter method, on each meter; the results as a list
    return function(self, ...)
        local out = {}
        for i, m in ipairs(self) do
            local ok, r = pcall(m[key], m, ...)
            -- the methods' errors name the script's line already
            if not ok then error(r, 0) end
            out[i] = r
        end
        return out
    end
end

group_mt.__tostring = function(g)
    return format("meters (%d)", #g)
end

function Group.each(g, fn)
    for i, m in ipairs(g) do fn(m, i) end
    return g
end

function Group.sum(g, what)
    local s = 0
    for _, m in ipairs(g) do s = s + m:read(what) end
    return s
end

-- meters(): all of the fleet; meters(1, 3) or meters{1, 3}: those
function meters(...)
    local n = api.count()
    local g = setmetatable({}, group_mt)
    local args = table.pack(...)
    if args.n == 0 then
        for i = 1, n do g[i] = meter(i) end
    else
        for i = 1, args.n do
            local a = args[i]
            if type(a) == "table" then
                for _, k in ipairs(a) do g[#g + 1] = meter(k) end
            else
                g[#g + 1] = meter(a)
            end
        end
    end
    return g
end

function set_clock(t)
    for _, m in ipairs(meters()) do m:set_clock(t) end
end

-- ---- files beside the scenario ----

local function split(line, sep)
    local out, i, n = {}, 1, #line
    while i <= n + 1 do
        local c = line:sub(i, i)
        if c == '"' then
            local buf, j = {}, i + 1
            while j <= n do
                local d = line:sub(j, j)
                if d == '"' then
                    if line:sub(j + 1, j + 1) == '"' then
                        buf[#buf + 1] = '"'
                        j = j + 2
                    else
                        break
                    end
                else
                    buf[#buf + 1] = d
                    j = j + 1
                end
            end
            out[#out + 1] = table.concat(buf)
            i = line:find(sep, j + 1, true)
            i = i and i + 1 or n + 2
        else
            local j = line:find(sep, i, true)
            local field = line:sub(i, (j or n + 1) - 1)
            out[#out + 1] = field:match("^%s*(.-)%s*$")
            i = j and j + 1 or n + 2
        end
    end
    return out
end

local Csv = {}
Csv.__index = Csv

-- rows:column("kW") or rows:column(2): that column's numbers
function Csv.column(rows, key)
    local idx = key
    if type(key) == "string" then
        idx = nil
        for i, name in ipairs(rows.header or {}) do
            if name == key then idx = i end
        end
        if not idx then
            fail_at(format("csv column %s: no such column in %s (the header "
                .. "is %s)", show(key), rows.path,
                table.concat(rows.header or {}, ", ")))
        end
    end
    local out = {}
    for r, row in ipairs(rows) do
        local v = row[idx]
        if type(v) ~= "number" then
            fail_at(format("csv column %s, row %d (%s:%d): %s is not a "
                .. "number", show(key), r, rows.path, rows.lines[r], show(v)))
        end
        out[r] = v
    end
    return out
end

-- a field as a number: "1.5", or "1,5" where commas do not separate
local function csv_number(f, sep)
    local v = tonumber(f)
    if v == nil and sep ~= "," and f:match("^[+-]?%d*,%d+$") then
        v = tonumber((f:gsub(",", ".")))
    end
    return v
end

-- csv("pv.csv"): the rows of a CSV file beside the scenario (numbers as
-- numbers, decimal commas too when ';' or a tab separates); rows.header
-- holds the first line when it is not numeric; rows.lines[r] is row r's
-- line in the file. Comment lines (#) and blank lines are skipped, also
-- when the separator is guessed from the first line that is neither.
function csv(path, opts)
    opts = opts or {}
    local text = api.read_file(path)
    local sep = opts.sep
    local rows = setmetatable({ path = path, lines = {} }, Csv)
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        n = n + 1
        line = line:gsub("\r$", "")
        if line:match("%S") and not line:match("^%s*#") then
            if not sep then
                sep = line:find(";", 1, true) and ";" or
                      line:find("\t", 1, true) and "\t" or ","
            end
            local fields = split(line, sep)
            local numeric = true
            for i, f in ipairs(fields) do
                local v = csv_number(f, sep)
                if v then fields[i] = v else numeric = false end
            end
            if not rows.header and #rows == 0 and not numeric and
                opts.header ~= false then
                rows.header = fields
            else
                rows[#rows + 1] = fields
                rows.lines[#rows] = n
            end
        end
    end
    return rows
end

-- require("lib.shapes"): lib/shapes.lua beside the scenario, once
if not unsafe then
    local loaded = {}
    function require(name)
        if type(name) ~= "string" or not name:match("^[%w_%-%.]+$") then
            fail_at("require(name): a module beside the scenario, such as "
                .. "'shapes' or 'lib.shapes'")
        end
        if loaded[name] ~= nil then return loaded[name] end
        local rel = name:gsub("%.", "/") .. ".lua"
        local src = api.read_file(rel)
        local chunk, err = load(src, "@" .. api.path_of(rel), "t")
        if not chunk then error(err, 0) end
        local r = chunk(name)
        if r == nil then r = true end
        loaded[name] = r
        return r
    end
else
    package.path = dir .. "?.lua;" .. package.path
end
