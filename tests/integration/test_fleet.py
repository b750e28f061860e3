"""Fleets: full fidelity's samples on worker threads give the same bytes
(dump and pulse stream) whatever the number of threads, and a run that
cannot keep up with the asked speed says so once, with the speed it
achieves, which 0x1026 serves. Usage: test_fleet.py KPM31C_SIM"""

import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None


def test_the_same_bytes_whatever_the_thread_count():
    h = H.harness()
    out = []
    for threads in (1, 2, 3):
        d, p = h.path("t%d.json" % threads), h.path("t%d.csv" % threads)
        # across a month end (settlement on the loop thread, pulses from
        # the workers)
        r = S.run(h, "--no-state", "--tcp", "off", "--meters", "160",
                  "--start", "2026-01-31T23:59:55", "--until", "12",
                  "--speed", "max", "--fidelity", "full", "--threads",
                  str(threads), "--load", "U=230,I=20,PF=0.8C", "--dump", d,
                  "--pulses", p)
        assert r.returncode == 0, r.stderr
        if threads > 1:
            assert "%d threads" % threads in r.stderr, r.stderr
        out.append((open(d, "rb").read(), open(p, "rb").read()))
    assert out[0] == out[1] == out[2]
    assert out[0][1].count(b"\n") > 160 * 12


def test_fast_fidelity_the_same_whatever_the_thread_count():
    # fast fidelity measures changed and noisy loads on the workers
    h = H.harness()
    with open(h.path("f.lua"), "w") as f:
        f.write('''
setup{ meters = 120, start = "2026-01-31T23:50" }
meters():load{ U = 230, I = 8, PF = "0.9C", noise = { U = 0.2, I = 0.01 } }
advance("15m")
meters(1, 60):load{ F = 57.3, I = 3 }
meters(61, 120):relay("open")
advance("16m")
''')
    out = []
    for threads in (1, 2):
        d, p = h.path("f%d.json" % threads), h.path("f%d.csv" % threads)
        r = S.run(h, h.path("f.lua"), "-q", "--no-state", "--tcp", "off",
                  "--fidelity", "fast", "--threads", str(threads), "--dump",
                  d, "--pulses", p)
        assert r.returncode == 0, r.stderr + r.stdout
        out.append((open(d, "rb").read(), open(p, "rb").read()))
    assert out[0] == out[1]
    assert out[0][1].count(b"\n") > 120 * 50


def test_falling_behind_is_said_once_with_the_speed_achieved():
    h = H.harness()
    # no machine runs 60 meters' samples a million times faster than real
    # time
    sim = S.Sim(h, "--no-state", "--meters", "60", "--fidelity", "full",
                "--speed", "1000000", "--load", "U=230,I=5")
    m = sim.proc.wait_stderr(r"warning: cannot keep up with --speed 1e\+06: "
                             r"(\S+) virtual seconds per real second "
                             r"\(60 meters, full fidelity", timeout=30)
    achieved = float(m.group(1))
    assert 0 < achieved < 1e6, m.group(0)
    # the register: the speed achieved over the last real second
    assert H.wait_until(lambda: sim.float(0x1026) > 0, timeout=10)
    assert sim.float(0x1026) < 1e6
    # said once, however many seconds it stays behind: three more
    # measures of the speed (each a new value in the register)
    seen = set()
    assert H.wait_until(lambda: seen.add(sim.float(0x1026)) or
                        len(seen) >= 3, timeout=20), seen
    assert sim.proc.stderr().count("cannot keep up") == 1, sim.proc.stderr()


if __name__ == "__main__":
    H.main(globals())
