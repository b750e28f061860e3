"""The pulse stream: a load step sequence whose pulse times are computed
here from the loads (1600 imp/kWh: a pulse every 2250 J), against what a
scenario's on("pulse") hears, what --pulses writes (CSV and JSON lines)
and the meter's pulse count. Usage: test_pulses.py KPM31C_SIM"""

import csv
import json
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

START_MS = 1767225600000            # 2026-01-01T00:00:00
# (seconds, W): each load after the last, from the start
STEPS = [(60, 1000.0), (30, 3600.0), (10, 0.0), (40, 500.0), (7, 7200.0)]
SERIAL = 31000001

SCENARIO = """
local m = meter(1)
on("pulse", function(mm, count, t_ms)
    print(string.format("pulse %d %d %d", mm:serial(), count, t_ms))
end)
""" + "".join('m:load{U = 200, I = %r, PF = 1}\nadvance("%ds")\n' %
              (w / 200, s) for s, w in STEPS) + """
print(string.format("count %d", m:pulses()))
"""


def expected():
    """Pulse k completes when the energy reaches k x 2250 J; its time,
    floored to the ms."""
    out, t, e, k = [], 0.0, 0.0, 1
    for s, w in STEPS:
        while w > 0 and e + w * (t + s - t) >= k * 2250 - 1e-9:
            out.append(START_MS + int((t + (k * 2250 - e) / w) * 1000 + 1e-6))
            k += 1
        e += w * s
        t += s
    return out


def run(h, fidelity, stream, prelude=""):
    with open(h.path("p.lua"), "w") as f:
        f.write(prelude + SCENARIO)
    r = S.run(h, h.path("p.lua"), "-q", "--no-state", "--tcp", "off",
              "--start", "2026-01-01", "--fidelity", fidelity,
              "--pulses", stream, "--dump", h.path("d.json"))
    assert r.returncode == 0, r.stderr + r.stdout
    hooked = [tuple(int(x) for x in line.split()[1:])
              for line in r.stdout.splitlines() if line.startswith("pulse ")]
    count = [int(line.split()[1]) for line in r.stdout.splitlines()
             if line.startswith("count ")]
    return r, hooked, count[0], S.dump(h.path("d.json"))["pulses"]


def check(want, hooked, streamed, count, dumped, tol_ms):
    assert count == dumped == len(want), (count, dumped, len(want))
    assert hooked == streamed, (hooked[:5], streamed[:5])
    assert [c for _, c, _ in hooked] == list(range(1, count + 1))
    assert all(s == SERIAL for s, _, _ in hooked)
    for (_, c, t), w in zip(hooked, want):
        assert abs(t - w) <= tol_ms, (c, t, w, t - w)


def test_pulse_times_after_load_steps_csv_fast():
    h = H.harness()
    want = expected()
    assert len(want) == 105, len(want)      # 238 400 J / 2250
    r, hooked, count, dumped = run(h, "fast", h.path("p.csv"))
    with open(h.path("p.csv")) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["serial", "count", "t_ms"], rows[0]
    streamed = [tuple(int(x) for x in row) for row in rows[1:]]
    # fast fidelity measures each load exactly: to the ms
    check(want, hooked, streamed, count, dumped, 1)


def test_pulse_times_after_load_steps_jsonl_full():
    h = H.harness()
    want = expected()
    r, hooked, count, dumped = run(h, "full", h.path("p.jsonl"))
    with open(h.path("p.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    streamed = [(j["serial"], j["count"], j["t_ms"]) for j in lines]
    # full fidelity: the window (200 ms) that spans a step is measured
    # as one, so a pulse in it lands up to a window's length off
    check(want, hooked, streamed, count, dumped, 200)


def test_pulse_times_are_virtual_whatever_the_meters_clock_says():
    """The pulse output is a line: its pulses are stamped with virtual
    time (as relay events and now() are), not with the meter's RTC, which
    a user set five months ahead here and which runs fast."""
    h = H.harness()
    want = expected()
    prelude = ('meter(1):set_clock(time("2026-06-01T00:00:00"))\n'
               'meter(1):drift(50000)\n')
    for fidelity in ("fast", "full"):
        r, hooked, count, dumped = run(h, fidelity, h.path("p.csv"), prelude)
        with open(h.path("p.csv")) as f:
            streamed = [tuple(int(x) for x in row)
                        for row in list(csv.reader(f))[1:]]
        check(want, hooked, streamed, count, dumped,
              1 if fidelity == "fast" else 200)


def test_pulses_to_stdout_and_bad_paths():
    h = H.harness()
    r = S.run(h, "-q", "--no-state", "--tcp", "off", "--start", "2026-01-01",
              "--until", "10", "--speed", "max", "--load", "U=200,I=18,PF=1",
              "--pulses", "-", "--dump", h.path("d.json"))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [j["count"] for j in lines] == list(range(1, 17)), lines
    assert lines[-1]["t_ms"] in (START_MS + 9999, START_MS + 10000)
    assert S.dump(h.path("d.json"))["pulses"] == 16
    r = S.run(h, "--no-state", "--tcp", "off", "--until", "10",
              "--pulses", h.path("p.txt"))
    assert r.returncode == 2 and "--pulses" in r.stderr and ".csv" in \
        r.stderr, r.stderr
    r = S.run(h, "--no-state", "--tcp", "off", "--until", "10",
              "--pulses", h.path("nodir/p.csv"))
    assert r.returncode == 2 and "nodir/p.csv" in r.stderr, r.stderr


if __name__ == "__main__":
    H.main(globals())
