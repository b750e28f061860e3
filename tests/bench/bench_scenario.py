#!/usr/bin/python3
"""The cost of a Lua scenario over the engine it drives; prints figures
for docs/performance.md. Usage: bench_scenario.py BUILD/sim/kpm31c-sim [RUNS]

One meter, a simulated month (30 days) at --speed max in fast fidelity,
each configuration RUNS times (default 3), the median wall time:

- plain: no scenario (--until 30d --load ...), the engine alone
- scenario, no hook: the load set, then advance("30d")
- a Lua hook every simulated second (every("1s", ...)), counting calls
- the hook reading a measurement each second (m:read("P"))
- the hook changing the load each second, over a simulated day only: the
  engine then measures 500 ms of real samples every second (the cost of a
  scenario that keeps the load moving, ramps and smooth profiles: mostly
  the engine's)

The overhead per hook is (hook - no hook) / 2 592 000 calls. A warm-up run
comes first.
"""
import os
import subprocess
import sys
import tempfile
import time

MONTH = 30 * 86400

SCENARIOS = {
    "no hook": """
local m = meter(1)
m:load{ U = 230, I = 5, PF = 0.95 }
advance("30d")
""",
    "hook every second": """
local m = meter(1)
m:load{ U = 230, I = 5, PF = 0.95 }
local n = 0
every("1s", function() n = n + 1 end)
advance("30d")
assert(n == 30 * 86400, n)
""",
    "hook reading P every second": """
local m = meter(1)
m:load{ U = 230, I = 5, PF = 0.95 }
local sum = 0
every("1s", function() sum = sum + m:read("P") end)
advance("30d")
assert(sum > 0)
""",
}

# over one simulated day: a month of it takes minutes
CHANGING = """
local m = meter(1)
m:load{ U = 230, I = 5, PF = 0.95 }
local k = 0
every("1s", function() k = k + 1; m:load{ I = 5 + k % 2 } end)
advance("1d")
"""


def run(argv, cwd):
    t0 = time.monotonic()
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (argv, r.returncode,
                                                  r.stdout, r.stderr))
    return dt


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    sim = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    base = [sim, "--headless", "-q", "--speed", "max", "--fidelity", "fast"]
    results = {}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.lua")
        with open(path, "w") as f:
            f.write(SCENARIOS["no hook"])
        run(base + [path], d)                       # warm-up
        results["plain (no scenario)"] = median(run(
            base + ["--no-state", "--tcp", "off", "--start", "2026-01-01",
                    "--until", "30d", "--load", "U=230,I=5,PF=0.95"], d)
            for _ in range(runs))
        for name, text in SCENARIOS.items():
            path = os.path.join(d, "bench.lua")
            with open(path, "w") as f:
                f.write(text)
            results[name] = median(run(base + [path], d)
                                   for _ in range(runs))
        with open(path, "w") as f:
            f.write(CHANGING)
        changing = median(run(base + [path], d) for _ in range(runs))
    print("| one meter, a simulated month, fast fidelity | wall time | "
          "virtual s per real s |")
    print("|---|---|---|")
    for name, dt in results.items():
        print("| %s | %.2f s | %.2f M |" % (name, dt, MONTH / dt / 1e6))
    hook = results["hook every second"] - results["no hook"]
    read = results["hook reading P every second"] - results["no hook"]
    print()
    print("scenario with no hook against the plain run: %+.1f %%"
          % (100 * (results["no hook"] / results["plain (no scenario)"] - 1)))
    print("a Lua hook: %.2f us a call (%.0f %% over the engine's month)"
          % (hook / MONTH * 1e6, 100 * hook / results["no hook"]))
    print("a hook reading P: %.2f us a call" % (read / MONTH * 1e6))
    print("a hook changing the load every second, a simulated day: %.2f s, "
          "%.0f us a change (the engine's 500 ms of samples)"
          % (changing, changing / 86400 * 1e6))


if __name__ == "__main__":
    main()
