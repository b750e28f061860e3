"""Lua scenarios through the binary: the library passes, failures and
errors exit 1 and 2 naming their line, TAP and JUnit, determinism at every
speed, the sandbox, hooks at their exact times, faults on the real Modbus
port, the progress line on a terminal only, and the examples of
docs/scenarios.md. Usage: test_scenarios.py KPM31C_SIM"""

import glob
import os
import pty
import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIBRARY = os.path.join(ROOT, "scenarios")
DOCS = os.path.join(ROOT, "docs", "scenarios.md")

CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


def write(h, name, text):
    path = h.path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def scenario(h, name, text, *args, timeout=120):
    """Run a scenario written into the temp dir (its cwd); the result."""
    write(h, name, text)
    return S.run(h, name, "-q", *args, timeout=timeout)


def closing(out):
    lines = out.strip().splitlines()
    m = CLOSING.match(lines[-1]) if lines else None
    assert m, "no closing line in:\n" + out
    return int(m.group(1)), int(m.group(2))


# --------------------------------------------------------------------------
# the library


def test_every_library_scenario_passes():
    h = H.harness()
    files = sorted(glob.glob(os.path.join(LIBRARY, "*.lua")))
    assert len(files) >= 9, files
    for path in files:
        # the demo runs forever unless told otherwise
        extra = ["step=0", "loops=1"] if path.endswith("/demo.lua") else []
        r = S.run(h, path, "--speed", "max", "-q", *extra, timeout=120)
        assert r.returncode == 0, (path, r.returncode, r.stdout, r.stderr)
        passed, failed = closing(r.stdout)
        assert failed == 0 and passed > 0, (path, r.stdout)


def test_the_demo_tells_its_story():
    """One loop of the trade-show demo, headless, no pause between steps:
    the story's events happened (its own checks), its captions and the
    settings changes are in the log."""
    h = H.harness()
    r = S.run(h, os.path.join(LIBRARY, "demo.lua"), "--headless", "step=0",
              "loops=1", timeout=120)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    passed, failed = closing(r.stdout)
    assert failed == 0 and passed >= 15, r.stdout
    assert "1 loop(s): 1 settlement(s), 1 trip(s)" in r.stdout, r.stdout
    for caption in ("the tariff switches to sharp (T1)",
                    "Credit gone: the relay is open",
                    "A top-up of 20 kWh", "enters the password 6666",
                    "the month is settled", "A month passes"):
        assert "caption: " in r.stderr and caption in r.stderr, (caption,
                                                                 r.stderr)
    for change in ("meter 31000001: credit 0.000 -> 20.000 kWh (scenario)",
                   "meter 31000001: baud 9600 -> 4800 (Modbus FC06)",
                   "meter 31000001: prepaid off -> on"):
        assert change in r.stderr, (change, r.stderr)


def test_the_demo_refuses_bad_parameters():
    # a bad loops= would otherwise run forever in CI: every one is named
    h = H.harness()
    for word, says in (("loops=x", "loops=x: how many times"),
                       ("loops=-1", "loops=-1: how many times"),
                       ("loops=1.5", "loops=1.5: how many times"),
                       ("step=-1", "step=-1: real seconds a step"),
                       ("step=x", "step=x: real seconds a step"),
                       ("poll=0.001", "poll=0.001: real seconds between"),
                       ("poll=-1", "poll=-1: real seconds between")):
        r = S.run(h, os.path.join(LIBRARY, "demo.lua"), "--headless",
                  word, timeout=60)
        assert r.returncode == 2, (word, r.returncode, r.stderr)
        assert says in r.stderr, (word, r.stderr)


def test_caption_checks_its_argument():
    h = H.harness()
    r = scenario(h, "cap.lua", 'caption("ok")\ncaption()\ncaption(42)\n')
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "cap.lua:3: caption(text): text is a string, not a number" in \
        r.stderr, r.stderr


# --------------------------------------------------------------------------
# results and exit codes


FAILING = """local m = meter(1)
m:load{U = 230, I = 5, PF = 1}
advance("10s")
expect.near(m:read("P"), 1150, 0.5, "power")
expect.near(m:read("P"), 999, 1, "wrong on purpose")
expect.eq(m:read("U") > 200, true, "voltage")
"""


def test_a_failing_assertion_exits_1_with_its_line():
    h = H.harness()
    r = scenario(h, "fails.lua", FAILING)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "FAIL fails.lua:5 " in r.stdout, r.stdout
    assert "wrong on purpose: got 1150, expected 999" in r.stdout, r.stdout
    assert closing(r.stdout) == (2, 1)


def test_must_stops_the_scenario():
    h = H.harness()
    r = scenario(h, "must.lua", """
must.eq(1 + 1, 3, "arithmetic")
print("not reached")
""")
    assert r.returncode == 1, r.stderr
    assert "not reached" not in r.stdout
    assert "FAIL must.lua:2 " in r.stdout, r.stdout


def test_a_broken_script_exits_2_with_its_line():
    h = H.harness()
    r = scenario(h, "broken.lua", """local m = meter(1)
local function deep(t)
    return t.missing.field
end
advance("1m")
deep({})
""")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "broken.lua:3: attempt to index a nil value (field 'missing')" \
        in r.stderr, r.stderr
    assert "stack traceback:" in r.stderr and "broken.lua:6:" in r.stderr, \
        r.stderr
    assert closing(r.stdout) == (0, 1)
    # a syntax error: its line, exit 2, before any meter starts
    r = scenario(h, "syntax.lua", "local m = meter(1)\nlocal x = = 2\n")
    assert r.returncode == 2 and "syntax.lua:2:" in r.stderr, r.stderr
    # an API misuse names the argument
    r = scenario(h, "misuse.lua", "meter(1):load{U = 230, Q = 3}\n")
    assert r.returncode == 2, r.stderr
    assert "misuse.lua:1: load{}: unknown key 'Q'" in r.stderr, r.stderr
    r = scenario(h, "hook.lua", 'every("1m", function() advance("1s") end)\n'
                 'advance("2m")\n')
    assert r.returncode == 2 and "hook.lua:1:" in r.stderr, r.stderr
    assert "main flow" in r.stderr, r.stderr


def test_a_negative_pf_exports():
    h = H.harness()
    r = scenario(h, "pf.lua", """local m = meter(1)
m:load{U = 230, I = 5, PF = -0.8}
advance("2s")
expect.near(m:read("P"), -920, 1, "I = 5, PF = -0.8 exports")
m:load{U = 230, I = -5, PF = -0.8}
advance("2s")
expect.near(m:read("P"), -920, 1, "both negative: export")
m:load{I = 5, PF = 0.8}
advance("2s")
expect.near(m:read("P"), 920, 1, "a positive I and PF import again")
m:load{PF = "-0.8C"}
advance("2s")
expect.near(m:read("P"), -920, 1, "a negative leading PF exports")
expect.below(m:read("Q"), 0, "export, leading: quadrant III")
m:load{P = 500, PF = -1}
advance("2s")
expect.near(m:read("P"), -500, 1, "P = 500, PF = -1: 500 W exported")
expect.error(function() m:load{I = 5, PF = -0.8, dir = "import"} end,
             "negative PF contradict", "contradiction")
""")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert closing(r.stdout) == (7, 0), r.stdout


def test_csv_comments_separators_decimal_commas_and_errors():
    h = H.harness()
    write(h, "semi.csv", "# exported 2026-01-01\r\n# by a spreadsheet\r\n"
          "time;kw\r\n0;0,75\r\n1;-1,5\r\n2;2\r\n")
    write(h, "tab.csv", "# a comment first\nhour\tkw\n0\t1,25\n")
    write(h, "comma.csv", "# commas separate\nhour,kw\n0,\"1,5\"\n1,2\n")
    write(h, "bad.csv", "hour;kw\n0;1\n\n# gap\n1;n/a\n")
    r = scenario(h, "files.lua", """local m = meter(1)
local semi = csv("semi.csv")
expect.eq(table.concat(semi.header, "|"), "time|kw", "header after comments")
expect.eq(semi:column("kw")[1], 0.75, "a decimal comma")
expect.eq(semi:column("kw")[2], -1.5, "a negative decimal comma")
expect.eq(semi.lines[1], 4, "row 1 is line 4")
local tab = csv("tab.csv")
expect.eq(tab:column("kw")[1], 1.25, "tab separated, decimal comma")
local comma = csv("comma.csv")
expect.eq(comma[1][2], "1,5", "with commas separating, 1,5 stays text")
expect.error(function() csv("missing.csv") end,
             "^files.lua:11: cannot read missing.csv", "a missing file: the script's line")
expect.error(function() semi:column("kW") end,
             '^files.lua:13: csv column "kW": no such column in semi.csv '
             .. "%(the header is time, kw%)", "a column the header lacks")
expect.error(function() csv("bad.csv"):column("kw") end,
             'row 2 %(bad.csv:5%): "n/a" is not a number', "the file's line")
""")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert closing(r.stdout) == (9, 0), r.stdout


def test_errors_that_list_what_is_valid():
    h = H.harness()
    r = scenario(h, "keys.lua", """local m = meter(1)
expect.error(function() m:key("up") end,
             "key%(name%): 'up' is not a key of the meter: 'left', 'down' "
             .. "or 'enter'", "the valid keys")
m:tariff{ {"06:00", "sharp"}, {"10:00", "peak"}, {"23:00", "valley"} }
expect.error(function()
    m:tariff{ {"06:00", "sharp"}, {"10:00", "peak"}, {"09:00", "flat"} }
end, "^keys.lua:7: tariff{}: period 3 starts at 09:00, not after period 2 "
     .. "%(10:00%)", "a period out of order, named")
expect.error(function()
    m:tariff{ {"06:00", "sharp"}, {"06:00", "peak"} }
end, "period 2 starts at 06:00, not after period 1 %(06:00%)", "twice")
expect.error(function()
    m:tariff{ zones = { { from = "04-01", periods = { {"06:00", 1} } },
                        { from = "01-01", periods = { {"06:00", 2} } } } }
end, "zone 2 starts on 01%-01, not after zone 1 %(04%-01%)", "zones too")
advance("1s")
expect.eq(m:read(0x1200, "u16"), 1, "the refused zones changed nothing")
expect.error(function() expect(true, {}) end,
             "^keys.lua:19: the name of a check %(its last argument%) must "
             .. "be a string, got table", "a check's name that is no string")
expect(true, 7)
""")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert closing(r.stdout) == (7, 0), r.stdout


def test_a_bad_profile_leaves_nothing_behind():
    # each argument error raised after the shape is read (the load's keys,
    # the current limit): the run goes on, or ends with exit 2, and a
    # sanitized build finds no leak at exit
    h = H.harness()
    r = scenario(h, "profile.lua", """local m = meter(1)
local shape = {}
for i = 1, 24 do shape[i] = 1 end
expect.error(function() m:profile{ shape = shape, Q = 3 } end,
             "profile{}: unknown key 'Q'", "a key no load has")
expect.error(function() m:profile{ shape = shape, I = 5, P = 100 } end,
             "profile{}: I or P, not both", "I and P")
expect.error(function() m:profile{ shape = { 1, 3 }, interval = "1h",
                                   I = 50 } end,
             "is over 100 A", "over the current limit")
expect.error(function() m:profile{ shape = shape, harmonics = { [1] = 5 } }
             end, "order 1 is not 2", "a harmonic of order 1")
m:profile{ shape = shape, I = 5, PF = 2 }
""")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "profile.lua:13: profile{}: PF = 2 is not a power factor" \
        in r.stderr, r.stderr
    assert closing(r.stdout) == (4, 1), r.stdout


def test_a_missing_scenario_exits_2():
    h = H.harness()
    r = S.run(h, "nowhere.lua")
    assert r.returncode == 2 and "nowhere.lua" in r.stderr, r.stderr


def test_tap_and_junit():
    h = H.harness()
    junit = h.path("results.xml")
    r = scenario(h, "fails.lua", FAILING + """
check("a named check", function()
    expect(true)
    expect.within(5, 1, 3, "inside")
end)
""", "--tap", "--junit", junit)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "TAP version 13", lines
    assert "ok 1 - power (fails.lua:4)" in lines, lines
    assert "not ok 2 - wrong on purpose (fails.lua:5)" in lines, lines
    assert "not ok 4 - a named check (fails.lua:8)" in lines, lines
    assert "1..4" in lines and lines[-1] == "# 2 passed, 2 failed", lines
    # no stray lines: everything is TAP or a TAP comment
    for line in lines:
        assert re.match(r"(TAP version|ok |not ok |1\.\.|# )", line), line
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("name") == "fails" and suite.get("tests") == "4", \
        suite.attrib
    assert suite.get("failures") == "2" and suite.get("errors") == "0"
    cases = suite.findall("testcase")
    # names without lines: a line added above a check renames nothing
    assert [c.get("name") for c in cases] == [
        "power", "wrong on purpose", "voltage", "a named check"], cases
    fail = cases[3].find("failure")
    assert "fails.lua:8 1 expectation failed; first: fails.lua:10 inside: " \
        "got 5, expected 1 .. 3" in \
        fail.text, fail.text
    assert cases[1].find("failure").get("message") == \
        "fails.lua:5 got 1150, expected 999 ± 1 (off by 151)", \
        cases[1].find("failure").attrib
    r = scenario(h, "fails.lua", "\n\n" + FAILING, "--junit", junit)
    cases2 = ET.parse(junit).getroot().find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases2] == \
        ["power", "wrong on purpose", "voltage"], cases2
    assert cases2[1].find("failure").get("message").startswith(
        "fails.lua:7 got"), cases2[1].find("failure").attrib
    # a repeated name gets its rank, in order
    r = scenario(h, "loop.lua", "for i = 1, 3 do expect(i < 3, 'small') end\n"
                 "expect(true, 'other')\n", "--junit", junit)
    cases = ET.parse(junit).getroot().find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == [
        "small", "small #2", "small #3", "other"], cases
    assert cases[2].find("failure") is not None
    # a scenario error is a JUnit <error>
    r = scenario(h, "err.lua", "expect(true)\nerror('boom')\n", "--junit",
                 junit)
    assert r.returncode == 2
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("errors") == "1", suite.attrib
    err = suite.findall("testcase")[-1].find("error")
    assert "err.lua:2: boom" in err.get("message"), err.attrib


# --------------------------------------------------------------------------
# determinism


DETERMINISM = """
setup{ start = "2026-03-31T22:30", meters = 2 }
local a, b = meter(1), meter(2)
a:load{ U = 231, I = 7.5, PF = "0.9C", noise = { U = 0.3, I = 0.02 },
        harmonics = { [3] = 20, [5] = 10 } }
b:profile{ shape = { 0.2, 0.5, 1, 0.7 }, interval = "15m", I = 12, PF = 0.95,
           smooth = true }
local n = 0
every("7m", function() n = n + 1; a:load{ I = 5 + (n % 4) } end)
on_settlement(function(m) m:topup(100) end)
b:ramp{ U = 240, over = "20m", step = "10s" }
a:outage("3m")
advance("45m")
a:reverse_ct()
b:drift(250)
fault.modbus("busy,p=0.3")
local busy = 0
every("1m", function()
    if modbus.read(2, 0x30, 2).exception == 6 then busy = busy + 1 end
end)
a:load{ I = 3 + math.random() }
run_until("2026-04-01T00:30")
print("busy", busy)
"""


def test_same_scenario_and_seed_same_dump_at_every_speed():
    h = H.harness()
    write(h, "det.lua", DETERMINISM)
    dumps, outs = {}, {}
    for name, args in [("max", ["--speed", "max"]),
                       ("max-again", ["--speed", "max"]),
                       ("x20000", ["--speed", "20000"]),
                       ("x5000", ["--speed", "5000"])]:
        out = h.path(name + ".json")
        r = S.run(h, "det.lua", "-q", "--fidelity", "fast", "--seed", "7",
                  "--dump", out, *args)
        assert r.returncode == 0, (name, r.stdout, r.stderr)
        dumps[name] = open(out, "rb").read()
        outs[name] = r.stdout
    assert len(set(dumps.values())) == 1, "dumps differ between speeds"
    assert len(set(outs.values())) == 1, outs
    # another seed: other noise, other faults
    out = h.path("seed8.json")
    r = S.run(h, "det.lua", "-q", "--fidelity", "fast", "--seed", "8",
              "--dump", out)
    assert r.returncode == 0 and open(out, "rb").read() != dumps["max"]
    # full fidelity too (a shorter stretch: it runs every sample)
    full = set()
    for args in (["--speed", "max"], ["--speed", "600"]):
        out = h.path("full.json")
        r = S.run(h, "det.lua", "-q", "--fidelity", "full", "--seed", "7",
                  "--until", "2026-03-31T22:32", "--dump", out, *args)
        # cut short on purpose: exit 1, the cut recorded as a failure
        assert r.returncode == 1, r.stderr
        assert "scenario ran to its end: scenario stopped at " \
            "2026-03-31T22:32:00 by --until" in r.stdout, r.stdout
        full.add(open(out, "rb").read())
    assert len(full) == 1, "full-fidelity dumps differ between speeds"


# --------------------------------------------------------------------------
# the sandbox


def test_the_sandbox():
    h = H.harness()
    write(h, "outside.csv", "1,2\n")
    write(h, "inside/data.csv", "a,b\n1,2\n")
    r = scenario(h, "inside/box.lua", r"""
expect.eq(os, nil, "no os"); expect.eq(io, nil, "no io")
expect.eq(dofile, nil, "no dofile"); expect.eq(loadfile, nil, "no loadfile")
expect.eq(debug, nil, "no debug"); expect.eq(package, nil, "no package")
expect.eq(string.dump, nil, "no string.dump")
local f, err = load("\27Lua", "x", "b")
expect.eq(f, nil, "binary chunks refused")
expect.eq(load("return 6 * 7")(), 42, "text chunks load")
expect.error(function() csv("../outside.csv") end, "relative to the "
             .. "scenario's directory", "no way out of the directory")
expect.error(function() csv("/etc/passwd") end, "without '..' or a leading",
             "no absolute paths")
expect.eq(csv("data.csv")[1][2], 2, "files beside the scenario")
""")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert closing(r.stdout) == (12, 0), r.stdout
    r = scenario(h, "unsafe.lua", """
expect(os and io and debug, "everything with --unsafe-lua")
""", "--unsafe-lua")
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_memory_is_capped():
    h = H.harness()
    r = scenario(h, "hog.lua", """
local t = {}
for i = 1, 1e9 do t[i] = string.rep("x", 1 << 20) .. i end
""", "--lua-memory", "32")
    assert r.returncode == 2, r.stderr
    assert "out of memory" in r.stderr and "32 MiB" in r.stderr, r.stderr
    # its first line says where, like every other scenario error
    first = r.stderr.splitlines()[0]
    assert "hog.lua:3: out of memory" in first, first


def test_an_endless_loop_is_stopped_with_its_line():
    h = H.harness()
    r = scenario(h, "loop.lua", """setup{ watchdog = 0.3 }
advance("1s")
local x = 0
while true do x = x + 1 end
""")
    assert r.returncode == 2, r.stderr
    assert "loop.lua:4:" in r.stderr and "endless loop" in r.stderr, r.stderr


def stopped(r, where, what):
    """The run ended as a scenario error whose first line is where: what."""
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr)
    first = r.stderr.splitlines()[0] if r.stderr else ""
    assert where in first and what in first, first[:500]


# Each case: (name, script, what its first error line says). A small
# watchdog and cap from the command line keep them short; a script cannot
# lift either.
LIMITS = [
    ("watchdog0.lua", "setup{ watchdog = 0 }\nwhile true do end\n",
     "watchdog0.lua:1:", "cannot switch the watchdog off"),
    ("lift.lua", "setup{ watchdog = 1e6 }\nwhile true do end\n",
     "lift.lua:2:", "ran for 0.5 s"),
    ("caught.lua", "while true do pcall(function() while true do end end)"
     " end\n", "caught.lua:1:", "ran for 0.5 s"),
    ("rep.lua", "local s = (''):rep(math.maxinteger)\n"
     "table.move({}, 1, math.maxinteger - 1, 2)\n",
     "rep.lua:2:", "ran for 0.5 s"),
    ("gc.lua", "local t = setmetatable({}, { __gc = function()\n"
     "  while true do end end })\n", "gc.lua:1:", "__gc"),
    ("gclate.lua", "local mt = getmetatable(meter(1))\n"
     "expect.eq(mt, 'locked')\nmt.__gc = 1\n", "gclate.lua:3:",
     "attempt to index"),
    ("names.lua", "local big = ('x'):rep(4 << 20)\n"
     "for i = 1, 1e6 do expect(false, big .. i) end\n",
     "names.lua:2:", "more than 32 MiB"),
    ("timers.lua", "for i = 1, 1e9 do after('1h', function() end) end\n",
     "timers.lua:1:", "more than 32 MiB"),
    ("table.lua", "error({})\n", "table.lua:1:",
     "error object is a table value"),
    ("nil.lua", "local x = 1\nerror(nil)\n", "nil.lua:2:",
     "error object is a nil value"),
    ("bare.lua", "error('no position', 0)\n", "bare.lua:1:",
     "no position"),
    ("hook.lua", "every('1h', function()\n  error({})\nend)\n"
     "advance('2h')\n", "hook.lua:2:", "error object is a table value"),
    ("hookmem.lua", "every('1h', function()\n  local t = {}\n"
     "  for i = 1, 1e9 do t[i] = ('x'):rep(1 << 20) .. i end\nend)\n"
     "advance('2h')\n", "hookmem.lua:1:", "more than 32 MiB"),
    ("csv.lua", "\nlocal rows = csv('missing.csv')\n", "csv.lua:2:",
     "cannot read missing.csv"),
    ("require.lua", "\n\nrequire('missing')\n", "require.lua:3:",
     "cannot read missing.lua"),
]


def test_no_script_outlives_the_limits():
    h = H.harness()
    for name, text, where, what in LIMITS:
        # a case about memory must meet the cap, never the watchdog, however
        # slow the machine is
        watchdog = "600" if "MiB" in what else "0.5"
        r = scenario(h, name, text, "--lua-watchdog", watchdog,
                     "--lua-memory", "32", timeout=120)
        stopped(r, where, what)
        assert "prelude:" not in r.stderr.splitlines()[0], r.stderr[:500]


# Scripts stuck inside one C function (Lua's own pattern matching, which no
# hook interrupts): the watchdog's backstop ends the process.
STUCK_IN_C = [
    ("pattern.lua", "local s = ('a'):rep(40)\n"
     "return s:match(('a?'):rep(40) .. ('a'):rep(40))\n"),
    ("gsub.lua", "local s = ('a'):rep(1 << 20)\ns:gsub('a*b', 'c')\n"),
    ("plainfind.lua", "local s = ('a'):rep(4 << 20)\n"
     "s:find(('a'):rep(2 << 20) .. 'b', 1, true)\n"),
]


def test_a_script_stuck_in_c_ends_the_process():
    h = H.harness()
    for name, text in STUCK_IN_C:
        # the run's timeout bounds it: a hang fails the test
        r = scenario(h, name, text, "--lua-watchdog", "0.5", timeout=120)
        assert r.returncode == 2, (name, r.returncode, r.stderr[-2000:])
        assert (f"error: scenario {name}: the watchdog (0.5 s) could not "
                "stop the script: it is inside a C function (a string "
                "pattern?); stopping the process") in r.stderr, r.stderr


def test_a_script_may_lower_the_watchdog():
    h = H.harness()
    r = scenario(h, "lower.lua", "setup{ watchdog = 0.2 }\n"
                 "while true do end\n", "--lua-watchdog", "1000")
    stopped(r, "lower.lua:2:", "ran for 0.2 s")
    # the bounded string.rep and table.move work as Lua's
    r = scenario(h, "match.lua", """
expect.eq(("k = v"):match("^(%w+)%s*=%s*(%w+)$"), "k")
expect.eq(select(2, ("a,b,c"):gsub(",", ";")), 2)
expect.eq(("x.y"):find(".", 1, true), 2)
local words = {}
for w in ("one two"):gmatch("%a+") do words[#words + 1] = w end
expect.eq(table.concat(words, "+"), "one+two")
expect.eq(table.concat(table.move({1, 2, 3}, 1, 3, 2), ","), "1,1,2,3")
expect.eq(("ab"):rep(2, "-"), "ab-ab")
""")
    assert r.returncode == 0 and closing(r.stdout) == (6, 0), (r.stdout,
                                                               r.stderr)


# --------------------------------------------------------------------------
# time, hooks, setup


def test_hooks_run_at_their_exact_times():
    h = H.harness()
    r = scenario(h, "hooks.lua", """
setup{ start = "2026-01-31T23:00" }
local m = meter(1)
m:load{ U = 230, I = 1 }
local log = {}
local function note(what) log[#log + 1] = date() .. " " .. what end
every("20m", function() note("every") end)
at("23:30", function() note("at") end)
after("50m", function() note("after") end)
on_settlement(function(mm, t)
    note("settled " .. date(t) .. " this month " .. mm:month(0).active)
end)
advance("10m")
note("main")
run_until("2026-02-01T00:20")
note("end")
for _, l in ipairs(log) do print(l) end
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:-1] == [
        "2026-01-31T23:10:00 main",
        "2026-01-31T23:20:00 every",
        "2026-01-31T23:30:00 at",
        "2026-01-31T23:40:00 every",
        "2026-01-31T23:50:00 after",
        "2026-02-01T00:00:00 settled 2026-02-01T00:00:00 this month 0.0",
        "2026-02-01T00:00:00 every",
        "2026-02-01T00:20:00 every",
        "2026-02-01T00:20:00 end",
    ], r.stdout


def test_setup_and_the_command_line():
    h = H.harness()
    text = """
setup{ start = "2026-07-01T12:00", meters = 3, seed = 5 }
print(date(), #meters(), meter(2):slave())
"""
    r = scenario(h, "setup.lua", text)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "2026-07-01T12:00:00\t3\t2", r.stdout
    # the command line wins
    r = scenario(h, "setup.lua", text, "--start", "2026-01-01T06:00",
                 "--meters", "2")
    assert r.stdout.splitlines()[0] == "2026-01-01T06:00:00\t2\t2", r.stdout
    # setup after the meters started: an error naming both lines
    r = scenario(h, "late.lua", "local m = meter(1)\nsetup{ meters = 2 }\n")
    assert r.returncode == 2, r.stderr
    assert "late.lua:2:" in r.stderr and "late.lua:1:" in r.stderr, r.stderr
    # the script's own arguments
    r = scenario(h, "args.lua", "print(arg.loops + 1, arg[1])\n", "loops=4")
    assert r.stdout.splitlines()[0] == "5\tloops=4", r.stdout


def test_until_cuts_a_scenario_short():
    h = H.harness()
    r = scenario(h, "long.lua", """
local m = meter(1)
advance("1h")
expect(true, "an hour in")
advance("1d")
expect(true, "never reached")
""", "--until", "2026-01-01T02:00")
    # the checks after the cut never ran: a failure CI sees, exit 1
    assert r.returncode == 1, r.stderr
    assert "FAIL [2026-01-01T02:00:00] scenario ran to its end: scenario " \
        "stopped at 2026-01-01T02:00:00 by --until, before its end" \
        in r.stdout, r.stdout
    assert closing(r.stdout) == (1, 1)
    junit = h.path("cut.xml")
    r = S.run(h, "long.lua", "-q", "--tap", "--junit", junit, "--until", "2h")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert "not ok 2 - scenario ran to its end" in lines, lines
    assert "1..2" in lines, lines
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "1", suite.attrib
    assert "by --until" in suite.findall("testcase")[-1].find(
        "failure").get("message")


def test_a_scenario_without_checks_is_one_pass():
    h = H.harness()
    junit = h.path("none.xml")
    write(h, "none.lua", "local m = meter(1)\nadvance('1m')\nprint('ran')\n")
    r = S.run(h, "none.lua", "-q", "--tap", "--junit", junit)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == ["TAP version 13", "# ran", "ok 1 - scenario ran (no checks)",
                     "1..1", "# 0 passed, 0 failed"], lines
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.findall("testcase")] == \
        ["scenario ran (no checks)"]
    # the plain closing line keeps its count
    r = S.run(h, "none.lua", "-q")
    assert closing(r.stdout) == (0, 0), r.stdout


def test_keys_and_the_lcd():
    h = H.harness()
    r = scenario(h, "lcd.lua", """
local m = meter(1)
m:load{ U = 230, I = 5, PF = 1 }
advance("5s")
print(m:lcd())
m:key("down")
local text, icons = m:lcd()
print(text, table.concat(icons, " "))
""")
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()[:2]
    assert "230" in first, first
    assert "5.000" in second and "A" in second.split("\t")[1].split(), second


# --------------------------------------------------------------------------
# the real ports


def test_faults_reach_the_real_modbus_port():
    h = H.harness()
    port = H.free_port()
    path = write(h, "scada.lua", """
local m = meter(1)
m:load{ U = 230, I = 5 }
fault.modbus("busy,addr=0x30-0x31")
print("busy")
advance("1h")
""")
    proc = h.start([S.exe(), path, "--headless", "-q", "--speed", "1",
                    "--tcp", "127.0.0.1:%d" % port], name="scada")
    proc.wait_for("^busy$", timeout=15)
    assert H.wait_until(lambda: _tcp_ready(port), timeout=10)
    with H.tcp_connect(port) as s:
        assert H.exception_of(H.tcp_request(s, H.pdu_read(0x30, 2))) == 6
        # another address: untouched
        pdu = H.tcp_request(s, H.pdu_read(0x32, 2))
        assert H.exception_of(pdu) is None, pdu.hex()
    assert proc.stop() in (0, 1)


POLL = """
setup{ tcp = "127.0.0.1:0" }
local m = meter(1)
m:load{ U = 230, I = 5, PF = 0.9 }
advance("10m")
fault.modbus("busy,addr=0x0080-0x008B")
local p = modbus.poll{ every = 0.2, slave = { 1, 9 },
                       reads = { {0x0030, 14}, {0x0080, 12}, {0x1100, 3} } }
print(tostring(p):match("^modbus poller 127%.0%.0%.1:%d+ %(6 reads every 0%.2 s%)$") ~= nil)
must(p:wait(2, 60), "replies came back")
-- time stands still while p:wait() waits: what it read is what the meter shows
for k, r in ipairs{ {0x0030, 14}, {0x1100, 3} } do
    local kk = k == 1 and 1 or 3
    expect.eq(table.concat(p:regs(kk), " "),
              table.concat(modbus.read(1, r[1], r[2]).regs, " "), "read " .. kk)
end
local u = p:regs(1)
expect.near(string.unpack(">f", string.pack(">I2I2", u[1], u[2])), 230, 0.1, "U")
local regs, ex = p:regs(2)
expect.eq(regs, nil, "busy: no registers")
expect.eq(ex, 6, "busy: exception 6 over the wire")
-- slave 9 is not on the bus: the listener says 0x0B
must(p:wait(6, 60), "a second round")
expect.eq(select(2, p:regs(4)), 11, "no meter at 9: 0x0B")
local s = p:stats()
expect(s.connected and s.connects == 1, "one connection")
expect.above(s.exceptions, 3, "exceptions counted")
expect.eq(s.bad, 0, "no malformed reply")
p:stop()
expect.eq(p:stats().connected, false, "stopped")
print(date())
"""


def test_a_poller_reads_the_meters_over_the_real_listener():
    h = H.harness()
    r = scenario(h, "poll.lua", POLL)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines()[:2] == ["true", "2026-01-01T00:10:00"], \
        r.stdout


def test_a_poller_survives_the_listener_closing_its_connection():
    """The listener drops a client idle for 1 s; a poller every 1.5 s
    reconnects each round and goes on reading."""
    h = H.harness()
    r = scenario(h, "reconnect.lua", """
setup{ tcp = "127.0.0.1:0" }
meter(1):load{ U = 230, I = 5 }
local p = modbus.poll{ every = 1.5, from = 0x30, count = 2 }
must(p:wait(3, 60), "three replies")
local s = p:stats()
expect.above(s.disconnects, 0, "the listener closed it")
expect.eq(s.connects, s.disconnects + (s.connected and 1 or 0), "reconnected")
""", "--tcp-idle-timeout", "1", "-v")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "Modbus poller: the connection to 127.0.0.1:" in r.stderr and \
        "(the listener closed it)" in r.stderr, r.stderr
    assert "Modbus poller: connected to 127.0.0.1:" in r.stderr, r.stderr


def test_a_poller_needs_a_listener_and_good_arguments():
    h = H.harness()
    for body, args, want in [
            ("modbus.poll{}\n", [], "nolistener.lua:1: modbus.poll{}: this "
             "run has no Modbus TCP listener to poll"),
            ('setup{ tcp = "127.0.0.1:0" }\nprint(modbus.listening())\n'
             'modbus.poll{}\n', ["--tcp", "off"], "modbus.poll{}: this run "
             "has no Modbus TCP listener"),
            ('setup{ tcp = "here" }\n', [], 'setup{tcp}: "HOST:PORT" '
             '("127.0.0.1:0": a free port) or "off", not here'),
            ('setup{ tcp = "127.0.0.1:0" }\nmodbus.poll{ evry = 2 }\n', [],
             "modbus.poll{}: unknown key 'evry'"),
            ('setup{ tcp = "127.0.0.1:0" }\nmodbus.poll{ slave = 0 }\n', [],
             "modbus.poll{}: slave is 0, not 1..247"),
            ('setup{ tcp = "127.0.0.1:0" }\n'
             'modbus.poll{ from = 0xFFF0, count = 20 }\n', [],
             "modbus.poll{}: 0xFFF0 x20 runs past 0xFFFF"),
            ('setup{ tcp = "127.0.0.1:0" }\n'
             'modbus.poll{ every = 0 }\n', [],
             "modbus.poll{every}: real seconds")]:
        name = "nolistener.lua" if "nolistener" in want else "bad.lua"
        r = scenario(h, name, body, *args)
        assert r.returncode == 2, (body, r.returncode, r.stdout, r.stderr)
        assert want in r.stderr, (body, want, r.stderr)
        if "--tcp" in args:
            assert r.stdout.startswith("nil"), r.stdout


def _tcp_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_mqtt_messages_the_uplink_sent():
    import mqtt_peer                # paho: only this test needs it
    h = H.harness()
    broker = mqtt_peer.Broker(h)
    r = scenario(h, "mqtt.lua", """
setup{ speed = 20 }                     -- telemetry needs the broker's time
local m = meter(1)
m:load{ U = 230, I = 5, PF = 1 }
advance("1m")
local states = {}
for _, msg in ipairs(mqtt.sent(m)) do
    if msg.topic:match("/state$") then states[#states + 1] = msg end
end
expect.above(#states, 2, "telemetry every 10 s")
expect.eq(mqtt.count(), #mqtt.sent(), "all of it kept")
local last = states[#states].data
expect.near(last.p, 1150, 0.5, "the JSON as a table: active power")
expect.eq(#mqtt.received(), 0, "no commands")
""", "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--mqtt-period", "10",
                 "--mqtt-discovery", "off", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # a broker loss: nothing published while cut, then everything in
    # order with contiguous sequence numbers
    r = scenario(h, "broker.lua", """
setup{ speed = 20 }
local m = meter(1)
m:load{ U = 230, I = 5, PF = 1 }
advance("30s")
local before = mqtt.count(m)
fault.broker("1m")
advance("50s")
expect.eq(mqtt.count(m), before, "nothing leaves while the link is cut")
advance("40s")
expect.above(mqtt.count(m), before + 5, "the queue flows once restored")
local seqs = {}
for _, msg in ipairs(mqtt.sent(m)) do
    if msg.topic:match("/state$") then seqs[#seqs + 1] = msg.data.seq end
end
for k = 2, #seqs do
    expect.eq(seqs[k], seqs[k - 1] + 1, "contiguous after the loss")
end
""", "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--mqtt-period", "5",
                 "--mqtt-discovery", "off", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # a loss longer than the queue: the oldest telemetry goes, counted,
    # and the gap in seq is exactly what `dropped` says
    r = scenario(h, "overflow.lua", """
setup{ speed = 20 }
local m = meter(1)
m:load{ U = 230, I = 5, PF = 1 }
advance("10s")
fault.broker("60s")
advance("80s")
local states = {}
for _, msg in ipairs(mqtt.sent(m)) do
    if msg.topic:match("/state$") then states[#states + 1] = msg.data end
end
local last = states[#states]
expect.above(last.dropped, 40, "a full queue drops and counts")
local gaps = 0
for k = 2, #states do
    gaps = gaps + (states[k].seq - states[k - 1].seq - 1)
end
expect.eq(gaps, last.dropped, "every gap in seq is a counted drop")
""", "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--mqtt-period", "1",
                 "--mqtt-queue", "8", "--mqtt-discovery", "off", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # without --mqtt: a clear error
    for name, body in (("nomqtt.lua", "advance(1)\nmqtt.sent()\n"),
                       ("nobroker.lua", "advance(1)\nfault.broker('1m')\n")):
        r = scenario(h, name, body)
        assert r.returncode == 2 and "no MQTT uplink (--mqtt URI)" in r.stderr, \
            r.stderr
    r = scenario(h, "nomqtt.lua", "advance(1)\nmqtt.sent()\n")
    assert r.returncode == 2 and "no MQTT uplink (--mqtt URI)" in r.stderr, \
        r.stderr


# --------------------------------------------------------------------------
# the progress line


def test_progress_line_on_a_terminal():
    h = H.harness()
    write(h, "months.lua", """
setup{ start = "2026-01-01" }
-- noise: measured every 15 minutes, each second its own step (a steady
-- noiseless load runs a year in under a second: no time for a line)
meter(1):load{ U = 230, I = 5, noise = { U = 0.1 } }
run_until("2026-07-01")
print("july")
run_until("2027-01-01")
""")
    # stderr a pipe: no terminal progress line
    r = S.run(h, "months.lua")
    assert r.returncode == 0 and "\r" not in r.stderr, repr(r.stderr)
    # (a run past 10 s gets the plain log lines of a pipe, nothing else)
    assert all(line.startswith("kpm31c-sim: progress: ")
               for line in r.stderr.splitlines() if "progress" in line), \
        r.stderr
    # stdout and stderr one terminal: the virtual date, a percentage, the
    # speed, the time left; erased before other output; 100 % at the end
    master, slave = pty.openpty()
    p = subprocess.Popen([S.exe(), "--headless", "months.lua"], cwd=h.tmp,
                         stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.wait(timeout=60)
    os.close(master)
    text = seen.decode(errors="replace")
    line = r"2026-0\d-\d\dT\d\d:\d\d:\d\d +\d+% +x[\d.]+[kM]?"
    assert re.search(r"\r" + line + r"  \d+(:\d\d)? s? ?left\x1b\[K", text), \
        repr(text[-400:])
    # the line is erased before other output: nothing follows it directly
    before = text[:text.index("july")]
    if "\x1b[K" in before:
        assert before.endswith("\r\x1b[K"), repr(before[-100:])
    assert not re.search(r"left\x1b\[K[^\r]", text), repr(text)
    assert re.search(r"\r2027-01-01T00:00:00  100%  x[\d.]+[kM]?  in "
                     r"[\d:]+( s)?\x1b\[K\r\n0 passed, 0 failed", text), \
        repr(text[-300:])


def test_progress_lines_in_a_log():
    # stderr no terminal, a run of more than 10 s: a plain progress line
    # every 10 s, so a CI log shows the run is alive and how far it is
    h = H.harness()
    p = h.start([S.exe(), "--headless", "--no-state", "--tcp", "off",
                 "--speed", "max", "--fidelity", "full", "--meters", "4",
                 "--start", "2026-01-01", "--until", "2027-01-01"],
                stdin=False)
    m = p.wait_stderr(r"progress: 2026-\d\d-\d\dT[\d:]+ +\d+% +x[\d.]+[kM]? "
                      r"+[\dhm:]+( s)? left", timeout=60)
    assert m, p.stderr()
    assert "\r" not in p.stderr() and "\x1b" not in p.stderr()
    p.stop()


# --------------------------------------------------------------------------
# docs/scenarios.md


def doc_examples():
    """(line, lua, expected stdout or None) for every ```lua block; a
    ```text block right after one is its exact output."""
    with open(DOCS) as f:
        text = f.read()
    blocks = [(m.start(), m.group(1), m.group(2)) for m in re.finditer(
        r"```(\w+)\n(.*?)```", text, re.S)]
    out = []
    for k, (pos, lang, body) in enumerate(blocks):
        if lang != "lua":
            continue
        expect = None
        if k + 1 < len(blocks) and blocks[k + 1][1] == "text":
            between = text[pos:blocks[k + 1][0]]
            if between.count("```") == 2:
                expect = blocks[k + 1][2]
        out.append((text.count("\n", 0, pos) + 1, body, expect))
    return out


def test_the_examples_of_docs_scenarios_md_run():
    h = H.harness()
    # the file examples read the library's data
    for path in glob.glob(os.path.join(LIBRARY, "data", "*")):
        with open(path) as f:
            write(h, "data/" + os.path.basename(path), f.read())
    examples = doc_examples()
    assert len(examples) >= 8, len(examples)
    for line, body, expect in examples:
        want = 0
        m = re.search(r"-- exits (\d)", body)
        if m:
            want = int(m.group(1))
        r = scenario(h, "example.lua", body, "--speed", "max")
        assert r.returncode == want, ("docs/scenarios.md:%d" % line,
                                      r.returncode, r.stdout, r.stderr)
        if expect is not None:
            assert r.stdout == expect, ("docs/scenarios.md:%d" % line,
                                        r.stdout, expect)


if __name__ == "__main__":
    H.main(globals())
