"""Fast fidelity reads what full fidelity reads: a seeded sweep of random
load changes (voltage, current, power factor both ways, frequency,
harmonics, the relay, a dead line, a ramp) runs as one scenario in both
fidelities; every reading of fast fidelity, from the first second after a
change, is within a tenth of class 0.5S of full fidelity's steady
reading (P 0.05 %, Q 0.2 % of S, U and I 0.02 %, F 0.002 Hz), and the
energy fast fidelity counts is that of full fidelity's steady readings.
Usage: test_fidelity.py KPM31C_SIM"""

import os
import random
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

SEEDS = [int(x) for x in os.environ.get("FIDELITY_SEEDS", "11,12,13").split(",")]
STEPS = int(os.environ.get("FIDELITY_STEPS", "100"))
HOLD = 3                    # s each step is held; read at 1 s and at 3 s
QUANTITIES = ("U", "I", "P", "Q", "S", "PF", "F")


def random_steps(seed, n):
    """The load changes: Lua statements, one step each."""
    rnd = random.Random(seed)
    u, i, pf, f = 230.0, 5.0, "1", 50.0
    steps = []
    for _ in range(n):
        kind = rnd.choice(("U", "I", "PF", "F", "F", "harm", "mix",
                           "relay", "dead"))
        if kind == "U":
            u = round(rnd.uniform(180, 260), 3)
            steps.append("m:load{U = %r}" % u)
        elif kind == "I":
            i = round(rnd.choice((rnd.uniform(0.3, 2), rnd.uniform(2, 60))), 4)
            steps.append("m:load{I = %r}" % i)
        elif kind == "PF":
            pf = "%.3f%s" % (rnd.uniform(0.25, 1), rnd.choice("LC"))
            d = rnd.choice(("import", "export"))
            steps.append("m:load{PF = %r, dir = %r}" % (pf, d))
        elif kind == "F":
            f = round(rnd.uniform(45, 65), 3)
            steps.append("m:load{F = %r}" % f)
        elif kind == "harm":
            h = rnd.choice(("false", "{[3] = %d, [5] = %d}" % (
                rnd.randint(0, 40), rnd.randint(0, 30)),
                "{ {3, I = %d, V = %d, phase = %d} }" % (
                    rnd.randint(5, 40), rnd.randint(1, 5),
                    rnd.randint(0, 180))))
            steps.append("m:load{harmonics = %s}" % h)
        elif kind == "mix":
            u = round(rnd.uniform(190, 250), 2)
            i = round(rnd.uniform(0.3, 40), 3)
            f = round(rnd.uniform(45, 65), 3)
            pf = "%.3fL" % rnd.uniform(0.25, 1)
            steps.append("m:load{U = %r, I = %r, F = %r, PF = %r}" %
                         (u, i, f, pf))
        elif kind == "relay":
            steps.append('m:relay("open")')
            steps.append('m:relay("close")')
        else:
            steps.append("m:outage()")
            steps.append("m:restore()")
    return RAMPS + steps


# first, from 230 V, 5 A, PF 1, 50 Hz: a frequency ramp, then a current
# and power factor ramp, a step a second; second j of a ramp over HOLD
# seconds is at a + j / HOLD * (b - a)
RAMPS = ['m:ramp{F = 47.3, over = "%ds"}' % HOLD,
         'm:ramp{I = 0.4, PF = 0.3, over = "%ds"}' % HOLD]


def ramp_reference(k, j):
    """The reading of second j of ramp k, from the load's definition."""
    x = j / HOLD
    u, i, pf, f = 230.0, 5.0, 1.0, 50.0
    if k == 0:
        f = 50 + x * (47.3 - 50)
    else:
        f, i, pf = 47.3, 5 + x * (0.4 - 5), 1 + x * (0.3 - 1)
    s = u * i
    return {"U": u, "I": i, "P": s * pf, "Q": s * (1 - pf * pf) ** 0.5,
            "S": s, "PF": pf, "F": f}


def script(steps):
    lines = ["local m = meter(1)",
             "m:load{U = 230, I = 5, PF = 1}",
             'advance("5s")',
             "local function show(k, when)",
             "  local x = m:measure()",
             "  local e = m:energy()",
             '  print(string.format("%d %d %.9g %.9g %.9g %.9g %.9g %.9g '
             '%.9g %.9g %.9g %.9g %.9g", k, when, x.U, x.I, x.P, x.Q, x.S, '
             'x.PF, x.F, e.import, e.export, e.reactive_import, '
             'e.reactive_export))',
             "end"]
    for k, st in enumerate(steps):
        lines.append(st)
        lines.append('advance("1s") show(%d, 1)' % k)
        lines.append('advance("%ds") show(%d, %d)' % (HOLD - 1, k, HOLD))
    return "\n".join(lines) + "\n"


def run(h, name, text, fidelity):
    path = h.path(name)
    with open(path, "w") as f:
        f.write(text)
    r = S.run(h, path, "-q", "--no-state", "--tcp", "off", "--fidelity",
              fidelity, "--start", "2026-01-01", timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    rows = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 13 and f[0].isdigit():
            v = [float(x) for x in f[2:]]
            rows[(int(f[0]), int(f[1]))] = dict(zip(QUANTITIES, v[:7]),
                                                e=v[7:])
    return rows


def close(a, b, q):
    """a within a tenth of class 0.5S of b, the steady value of q."""
    if q == "F":
        return abs(a["F"] - b["F"]) <= 0.002
    if q in ("U", "I"):
        return abs(a[q] - b[q]) <= 2e-4 * abs(b[q]) + 1e-6
    if q == "P":
        return abs(a["P"] - b["P"]) <= 5e-4 * b["S"] + 1e-4
    if q == "Q":
        return abs(a["Q"] - b["Q"]) <= 2e-3 * b["S"] + 1e-4
    if q == "S":
        return abs(a["S"] - b["S"]) <= 4e-4 * b["S"] + 1e-4
    return abs(a["PF"] - b["PF"]) <= 1e-3


def test_fast_reads_what_full_reads_after_random_steps():
    h = H.harness()
    for seed in SEEDS:
        steps = random_steps(seed, STEPS)
        text = script(steps)
        fast = run(h, "fast%d.lua" % seed, text, "fast")
        full = run(h, "full%d.lua" % seed, text, "full")
        assert len(fast) == len(full) == 2 * len(steps), (len(fast),
                                                          len(full))
        bad = []
        for k, st in enumerate(steps):
            for when in (1, HOLD):
                # a ramp has no steady value in full fidelity: its
                # seconds are checked against the load's definition
                steady = (ramp_reference(k, when - 1) if k < len(RAMPS)
                          else full[(k, HOLD)])
                got = fast[(k, when)]
                for q in QUANTITIES:
                    if not close(got, steady, q):
                        bad.append("step %d (%s) second %d: %s fast %.7g, "
                                   "full %.7g" % (k, st, when, q, got[q],
                                                  steady[q]))
            # the relay: full fidelity too reads the new state alone from
            # the first second (open: nothing; closed: the load)
            if st.startswith("m:relay"):
                for q in QUANTITIES:
                    if not close(full[(k, 1)], full[(k, HOLD)], q):
                        bad.append("step %d (%s) full fidelity's first "
                                   "second: %s %.7g, then %.7g" %
                                   (k, st, q, full[(k, 1)][q],
                                    full[(k, HOLD)][q]))
            if st == 'm:relay("open")':
                for f in (fast, full):
                    assert f[(k, 1)]["I"] == f[(k, 1)]["P"] == 0, (k, f)
        assert not bad, "seed %d:\n" % seed + "\n".join(bad[:20])

        # energy: what fast counted over each step's seconds is what full
        # fidelity's steady readings give (kWh, the 4 registers)
        want = [0.0] * 4
        prev = fast[(len(RAMPS) - 1, HOLD)]["e"]
        for k, st in enumerate(steps[len(RAMPS):], len(RAMPS)):
            # the HOLD - 1 seconds between the two reads of step k, plus
            # the first second of step k (read at 1 s of step k)
            s = full[(k, HOLD)]
            p, q = s["P"], s["Q"]
            inc = [max(p, 0), max(-p, 0), max(q, 0), max(-q, 0)]
            got = [b - a for a, b in zip(prev, fast[(k, HOLD)]["e"])]
            # between prev (step k-1 at HOLD) and step k at HOLD: HOLD
            # seconds at step k's load
            for j in range(4):
                tol = 5e-4 * s["S"] * HOLD / 3.6e6 + 3e-7
                if abs(got[j] - inc[j] * HOLD / 3.6e6) > tol:
                    bad.append("step %d (%s): energy %d fast %.7g kWh, "
                               "full's readings %.7g" %
                               (k, st, j, got[j], inc[j] * HOLD / 3.6e6))
            prev = fast[(k, HOLD)]["e"]
        assert not bad, "seed %d:\n" % seed + "\n".join(bad[:20])


if __name__ == "__main__":
    H.main(globals())
