"""The engine through the binary: a day of steady load lands in the
right rates to the Wh at full and fast fidelity, runs are deterministic,
--until stops on the spot with the clock there, and --dump holds every
manual address. Usage: test_sim_engine.py KPM31C_SIM"""

import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

KW = "U=200,I=5,PF=1"       # 1 kW


def day(h, fidelity, name, until="2026-01-02", extra=()):
    out = h.path(name)
    r = S.run(h, "--no-state", "--tcp", "off", "--load", KW, "--start",
              "2026-01-01", "--until", until, "--speed", "max",
              "--fidelity", fidelity, "--dump", out, *extra)
    assert r.returncode == 0, r.stderr
    return out


def test_a_day_at_one_kilowatt_to_the_hundredth_of_a_wh():
    h = H.harness()
    for fidelity in ("fast", "full"):
        d = S.dump(day(h, fidelity, fidelity + ".json"))
        r = d["registers"]
        # manual example schedule: 7 kWh sharp, 2 peak, 8 flat, 7 valley;
        # no window's energy left behind at the end of the run (float32
        # kWh registers resolve 2e-6 kWh here)
        for addr, kwh in (("008C", 7), ("008E", 2), ("0090", 8),
                          ("0092", 7), ("0080", 24), ("0082", 24)):
            assert abs(r[addr] - kwh) < 1e-5, (fidelity, addr, r[addr])
        assert r["0084"] == 0 and abs(r["0086"]) < 0.001
        assert d["time"] == "2026-01-02T00:00:00"
        # pulses: floor(Wh x 1.6), the measured Wh a hair either side of
        # 24000
        assert d["pulses"] in (38399, 38400), (fidelity, d["pulses"])
        # a steady load's demand is its S
        assert abs(r["0070"] - 1000) < 0.5, (fidelity, r["0070"])


def test_restarts_lose_no_energy():
    h = H.harness()
    state = h.path("r.state")
    for k in range(4):
        r = S.run(h, "--state", state, "--tcp", "off", "--load", KW,
                  "--start", "2026-01-01T%02d:00" % k, "--until", "1h",
                  "--speed", "max", "--fidelity", "full", "--dump",
                  h.path("r.json"))
        assert r.returncode == 0, r.stderr
    chained = S.dump(h.path("r.json"))["registers"]["0080"]
    whole = S.dump(day(h, "full", "w.json", until="2026-01-01T04:00"))
    assert abs(chained - 4.0) < 1e-5, chained
    assert abs(whole["registers"]["0080"] - 4.0) < 1e-5, whole


def test_full_fidelity_agrees_with_fast():
    h = H.harness()
    a = S.dump(day(h, "fast", "fast.json", until="2026-01-01T06:30"))
    b = S.dump(day(h, "full", "full.json", until="2026-01-01T06:30"))
    for addr in ("0080", "008C", "0092"):
        assert abs(a["registers"][addr] - b["registers"][addr]) < 0.0005, addr


def test_same_seed_same_bytes():
    h = H.harness()
    extra = ("--seed", "7")
    a = open(day(h, "fast", "a.json", extra=extra), "rb").read()
    b = open(day(h, "fast", "b.json", extra=extra), "rb").read()
    assert a == b


def test_fast_steps_of_any_length_give_the_same_bytes():
    # at max speed fast fidelity runs a minute's seconds at once; paced,
    # the steps end wherever real time puts them: the dump and every
    # pulse's time are the same to the byte
    h = H.harness()
    out = []
    for speed in ("max", "7200"):
        d, p = h.path("s%s.json" % speed), h.path("s%s.csv" % speed)
        r = S.run(h, "--no-state", "--tcp", "off", "--load",
                  "U=230,I=7.3,PF=0.9C", "--start", "2026-01-01T06:59:17",
                  "--until", "2h", "--speed", speed, "--fidelity", "fast",
                  "--dump", d, "--pulses", p)
        assert r.returncode == 0, r.stderr
        out.append((open(d, "rb").read(), open(p, "rb").read()))
    assert out[0] == out[1]
    assert out[0][1].count(b"\n") > 2000


def test_dump_holds_every_manual_address():
    h = H.harness()
    d = S.dump(day(h, "fast", "d.json", until="2026-01-01T01:00"))
    keys = set(d["registers"])
    want = {"%04X" % a for a in S.manual_addresses()}
    assert want <= keys, sorted(want - keys)
    assert set(d["measurements"]) >= {"u", "i", "p", "q", "s", "pf", "f"}


def test_settlement_at_month_end_in_the_dump():
    h = H.harness()
    d = S.dump(day(h, "fast", "m.json", until="2026-03-01"))
    r = d["registers"]
    # February (28 days x 24 kWh) is previous 1, January previous 2
    assert abs(r["009C"] - 28 * 24) < 0.01, r["009C"]
    assert abs(r["009E"] - 31 * 24) < 0.01, r["009E"]
    assert abs(r["00D2"] - 28 * 7) < 0.01 and abs(r["00D0"]) < 0.001


def test_the_clock_ends_at_2099_12_31_23_59_59():
    h = H.harness()
    common = ("--no-state", "--tcp", "off", "--load", KW, "--start",
              "2099-12-31T23:59", "--speed", "max")
    # no --until: the run stops where the clock ends, saying so, exit 3
    r = S.run(h, *common, "--dump", h.path("end.json"), timeout=60)
    assert r.returncode == 3, r.stderr
    assert "clock ends at 2099-12-31T23:59:59" in r.stderr, r.stderr
    d = S.dump(h.path("end.json"))
    assert d["time"] == "2099-12-31T23:59:59", d["time"]
    assert abs(d["registers"]["0080"] - 60 / 3600) < 1e-6    # 60 s at 1 kW
    # an --until beyond is refused at start
    r = S.run(h, *common, "--until", "2h", timeout=60)
    assert r.returncode == 2, r.stderr
    assert "--until lies beyond the meter's clock" in r.stderr, r.stderr
    # up to the end exactly is a normal run
    r = S.run(h, *common, "--until", "1m", timeout=60)
    assert r.returncode == 0, r.stderr
    # a scenario that waits past it stops there too
    with open(h.path("end.lua"), "w") as f:
        f.write('setup{start = "2099-12-31T23:59"}\nadvance("1h")\n')
    r = S.run(h, h.path("end.lua"), "--no-state", "--tcp", "off",
              timeout=60)
    assert r.returncode == 3, r.stderr + r.stdout
    assert "by the end of the meter's clock" in r.stderr + r.stdout


if __name__ == "__main__":
    H.main(globals())
