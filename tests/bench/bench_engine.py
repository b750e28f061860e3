#!/usr/bin/python3
"""Benchmarks of the engine; prints figures for docs/performance.md.
Usage: bench_engine.py BUILD/sim/kpm31c-sim [RUNS] [--base OTHER-BINARY]

- one simulated year of one meter at --speed max (median of RUNS runs)
- meters kept in real time, full and fast fidelity, 1 and 2 threads: a
  fleet at --speed max for a short and a long virtual span; the difference
  of the wall times (start-up cancels) gives virtual seconds per real
  second, times the fleet size
- fast against full fidelity after random load steps: the worst error of
  fast fidelity's first second after a change against full fidelity's
  steady reading (the sweep of tests/integration/test_fidelity.py)

With --base, every figure also for OTHER-BINARY (e.g. a build of an older
commit), side by side. Machine load is printed: the figures are medians.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))


def wall(argv):
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def year(sim, runs):
    argv = [sim, "--headless", "--no-state", "-q", "--tcp", "off", "--start",
            "2026-01-01T00:00:00", "--until", "2027-01-01T00:00:00",
            "--speed", "max", "--load", "U=230,I=5,PF=0.95"]
    return statistics.median(wall(argv) for _ in range(runs))


def fleet_rate(sim, meters, fidelity, threads, runs):
    """Meters a second of real time runs a second of virtual time for."""
    def span(s):
        argv = [sim, "--headless", "--no-state", "-q", "--tcp", "off",
                "--meters", str(meters), "--start", "2026-01-01",
                "--until", str(s), "--speed", "max", "--fidelity", fidelity,
                "--load", "U=230,I=5,PF=0.95"]
        if threads:
            argv += ["--threads", str(threads)]
        return wall(argv)
    short, long_ = (2, 12) if fidelity == "full" else (60, 3600)
    rates = []
    for _ in range(runs):
        dt = span(long_) - span(short)
        rates.append(meters * (long_ - short) / dt if dt > 0 else 0)
    return statistics.median(rates)


def fidelity_errors(sim, seeds=(1, 2, 3), steps=100):
    import harness as H
    import sim as S
    import test_fidelity as T
    S.EXE = sim
    worst = {kind: {q: 0.0 for q in T.QUANTITIES}
             for kind in ("load", "relay")}
    h = H.harness()
    try:
        for seed in seeds:
            st = T.random_steps(seed, steps)
            text = T.script(st)
            fast = T.run(h, "f%d.lua" % seed, text, "fast")
            full = T.run(h, "F%d.lua" % seed, text, "full")
            for k in range(len(T.RAMPS), len(st)):
                a, b = fast[(k, 1)], full[(k, T.HOLD)]
                # steps of U, I, PF, F, harmonics; or the relay and a
                # dead line (against a steady 0: errors in V, A, W)
                kind = "relay" if st[k].startswith(
                    ("m:relay", "m:outage", "m:restore")) else "load"
                for q in T.QUANTITIES:
                    if q == "F":
                        e = abs(a[q] - b[q])
                    elif q in ("P", "Q", "S"):
                        e = abs(a[q] - b[q]) / b["S"] * 100 if b["S"] else \
                            abs(a[q] - b[q])
                    elif q == "PF":
                        e = abs(a[q] - b[q])
                    else:
                        e = abs(a[q] - b[q]) / b[q] * 100 if b[q] else \
                            abs(a[q] - b[q])
                    worst[kind][q] = max(worst[kind][q], e)
    finally:
        h.close()
    return worst


def main():
    args = sys.argv[1:]
    base = None
    if "--base" in args:
        i = args.index("--base")
        base = args[i + 1]
        del args[i:i + 2]
    sim = args[0]
    runs = int(args[1]) if len(args) > 1 else 3
    sims = [("now", sim)] + ([("base", base)] if base else [])
    print("# load average before: %.2f %.2f %.2f" % os.getloadavg())
    only = os.environ.get("BENCH_ONLY", "year,fleet,fidelity").split(",")
    for name, exe in sims if "year" in only else ():
        print("%s: year of one meter at --speed max: %.2f s (median of %d)"
              % (name, year(exe, runs), runs))
    for fid, meters in (("full", 200), ("fast", 2000)) \
            if "fleet" in only else ():
        for threads in (1, 2):
            for name, exe in sims:
                t = threads if name == "now" else None
                if name == "base" and threads == 2:
                    continue
                r = fleet_rate(exe, meters, fid, t, runs)
                print("%s: %s fidelity, %s thread(s): %.0f meters in real "
                      "time (median of %d)" % (name, fid, threads, r, runs))
    for name, exe in sims if "fidelity" in only else ():
        ws = fidelity_errors(exe)
        w = ws["load"]
        print("%s: fast vs full, first second after a load step, worst: "
              "U %.5f %%, I %.5f %%, P %.5f %% of S, Q %.5f %% of S, "
              "PF %.6f, F %.5f Hz" % (name, w["U"], w["I"], w["P"], w["Q"],
                                      w["PF"], w["F"]))
        w = ws["relay"]
        print("%s: fast vs full, first second after the relay or the "
              "voltage moves, worst: U %.4g, I %.4g, P %.4g, Q %.4g "
              "(%% of the steady value or of S; absolute where it is 0)"
              % (name, w["U"], w["I"], w["P"], w["Q"]))
    print("# load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
