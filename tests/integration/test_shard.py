"""Shards and populations: a fleet run in one process and in shards gives
the same meters (serials, addresses, loads drawn from a population,
energy), each shard names itself and its global range in the ready file,
the control API, /metrics and the log; bad --shard values and bad
population entries get clear errors. Usage: test_shard.py KPM31C_SIM"""

import json
import os
import re
import socket
import sys
import urllib.request

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

FLEET = {
    "meters": [{"range": "1-2", "load": {"U": 231, "I": 4, "PF": 0.9}},
               {"index": 30, "settings": {"demand": {"period": 30}}}],
    "population": {
        "seed": 7,
        "interval": "30m",
        "mix": [
            {"kind": "household", "share": 0.5},
            {"kind": "ev_charger", "share": 0.15, "chance": 0.9},
            {"kind": "pv_exporter", "share": 0.2, "kw": [3, 8]},
            {"kind": "shop", "share": 0.1, "weekend": 0.2},
            {"kind": "heat_pump", "share": 0.05},
        ],
    },
}

# a Sunday in June, across the evening's EV sessions and a day of PV
RUN = ["--no-state", "--tcp", "off", "--speed", "max", "--seed", "11",
       "--start", "2026-06-07T10:00", "--until", "14h", "--meters", "30"]


def write_fleet(h, fleet, name="fleet.json"):
    with open(h.path(name), "w") as f:
        json.dump(fleet, f)
    return h.path(name)


def meters_of(path):
    d = S.dump(path)
    return d["meters"] if "meters" in d else [d]


def test_three_shards_give_the_fleet_of_one_process():
    h = H.harness()
    cfg = write_fleet(h, FLEET)
    r = S.run(h, "--config", cfg, "--dump", h.path("all.json"), *RUN)
    assert r.returncode == 0, r.stderr
    whole = {m["serial"]: m for m in meters_of(h.path("all.json"))}
    parts = {}
    for i in range(3):
        d = h.path("s%d.json" % i)
        r = S.run(h, "--config", cfg, "--shard", "%d/3" % i, "--dump", d,
                  *RUN)
        assert r.returncode == 0, r.stderr
        assert ("10 meter(s) (shard %d/3: meters %d..%d of 30) running"
                % (i, 10 * i, 10 * i + 9)) in r.stderr, r.stderr
        got = meters_of(d)
        assert len(got) == 10
        for m in got:
            assert m["serial"] not in parts, "meter %d twice" % m["serial"]
            parts[m["serial"]] = m
    assert sorted(whole) == list(range(31000001, 31000031))
    assert sorted(parts) == sorted(whole)
    for serial, m in whole.items():
        assert parts[serial] == m, "meter %d differs" % serial
        assert m["slave"] == serial - 31000000
    # the population made them different meters, not copies
    imports = [m["registers"]["0082"] for m in whole.values()]
    exports = [m["registers"]["0084"] for m in whole.values()]
    assert len(set(imports)) > 20, imports
    assert max(exports) > 1, exports           # PV exporters
    assert whole[31000001]["registers"]["0082"] == \
        whole[31000002]["registers"]["0082"]   # the file's own load


def test_bad_shards_are_refused_by_name():
    h = H.harness()
    env = dict(os.environ)
    env.pop("KPM31C_POD_INDEX", None)
    cases = [
        (["--shard", "3/3"], "--shard: '3/3' names shard 3 of 3: shards "
         "are numbered 0..2"),
        (["--shard", "1/0"], "--shard: '1/0' is not I/N: the number of "
         "shards N is not 1..100000"),
        (["--shard", "x/2"], "--shard: 'x/2' is not I/N (shard I of N, "
         "0 <= I < N) or pod/N: 'x' is not an index"),
        (["--shard", "2"], "--shard: '2' is not I/N"),
        (["--meters", "2", "--shard", "0/3"], "--shard 0/3 of a fleet of 2 "
         "meters runs no meter"),
    ]
    for args, want in cases:
        r = S.run(h, "--no-state", "--tcp", "off", *args, "--until", "1")
        assert r.returncode == 2, (args, r.stderr)
        assert want in r.stderr, (args, r.stderr)
    # the variable, like any option's
    p = S.run(h, "--no-state", "--tcp", "off", "--until", "1",
              env=dict(env, KPM31C_SHARD="5/4"))
    assert p.returncode == 2 and "KPM31C_SHARD: '5/4' names shard 5 of 4" \
        in p.stderr, p.stderr
    # pod/N without the pod's index: a host name without -ORDINAL
    if not re.search(r"-[0-9]+$", socket.gethostname()):
        p = S.run(h, "--no-state", "--tcp", "off", "--until", "1",
                  env=dict(env, KPM31C_SHARD="pod/3"))
        assert p.returncode == 2, p.stderr
        assert ("KPM31C_SHARD: 'pod/3' needs the pod's index: "
                "KPM31C_POD_INDEX is unset and the host name") in p.stderr, \
            p.stderr
    p = S.run(h, "--no-state", "--tcp", "off", "--until", "1", "--shard",
              "pod/3", env=dict(env, KPM31C_POD_INDEX="x"))
    assert p.returncode == 2 and "KPM31C_POD_INDEX, and 'x' is not an " \
        "index" in p.stderr, p.stderr


def test_a_pod_names_its_shard_everywhere():
    h = H.harness()
    http, tcp = H.free_port(), H.free_port()
    ready = h.path("ready.json")
    env = dict(os.environ, KPM31C_SHARD="pod/3", KPM31C_POD_INDEX="1")
    proc = h.start([S.exe(), "--headless", "--no-state", "--meters", "30",
                    "--tcp", "127.0.0.1:%d" % tcp, "--http",
                    "127.0.0.1:%d" % http, "--ready-file", ready,
                    "--speed", "0", "--start", "2026-01-01T00:00"],
                   stdin=False, env=env)
    info = S.wait_ready(proc, ready)
    assert info["shard"] == {"index": 1, "count": 3, "first": 10, "end": 20,
                             "fleet": 30}, info
    assert [m["index"] for m in info["meters"]] == list(range(10, 20))
    assert [m["serial"] for m in info["meters"]] == \
        list(range(31000011, 31000021))
    assert [m["slave"] for m in info["meters"]] == list(range(11, 21))
    assert "10 meter(s) (shard 1/3: meters 10..19 of 30) running" in \
        proc.stderr()

    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (http, path),
                                    timeout=10) as r:
            return r.read().decode()

    api = json.loads(get("/api/v1/meters"))
    assert api["shard"] == info["shard"]
    assert [m["index"] for m in api["meters"]] == list(range(10, 20))
    assert json.loads(get("/api/v1/meters/12"))["serial"] == 31000013
    metrics = get("/metrics")
    assert ('kpm31c_shard_info{shard="1",shards="3",first="10",end="20",'
            'fleet="30"} 1') in metrics, metrics
    assert re.search(r'kpm31c_meter_voltage_volts\{meter="19",'
                     r'serial="31000020",slave="20"\}', metrics), metrics
    # its Modbus listener serves its meters at their own addresses
    with H.tcp_connect(tcp) as s:
        regs = H.regs_of(H.tcp_request(s, H.pdu_read(0x1002, 2), unit=15))
        assert regs[0] << 16 | regs[1] == 31000015


def test_a_shard_refuses_another_shards_state():
    h = H.harness()
    state = h.path("shard.state")
    r = S.run(h, "--state", state, "--tcp", "off", "--meters", "30",
              "--shard", "0/3", "--speed", "max", "--start",
              "2026-01-01T00:00", "--until", "1m")
    assert r.returncode == 0, r.stderr
    r = S.run(h, "--state", state, "--tcp", "off", "--meters", "30",
              "--shard", "2/3", "--speed", "max", "--until", "1m")
    assert r.returncode == 2, r.stderr
    assert ("--shard 2/3: %s holds meter 31000001 where this shard runs "
            "meter 20 (serial 31000021)" % state) in r.stderr, r.stderr
    r = S.run(h, "--state", state, "--tcp", "off", "--meters", "30",
              "--shard", "0/3", "--speed", "max", "--until", "1m")
    assert r.returncode == 0, r.stderr


def test_populations_follow_the_seasons():
    # PV exports most at midsummer, a heat pump draws most at midwinter,
    # a household a little more in winter (docs/fleet.md, "season")
    h = H.harness()
    energy = {}
    for kind in ("pv_exporter", "heat_pump", "household"):
        path = write_fleet(h, {"population": {"mix": [
            {"kind": kind, "share": 1}]}}, name=kind + ".json")
        for day in ("2026-06-22", "2026-12-21"):     # two Mondays
            dump = h.path("%s-%s.json" % (kind, day))
            r = S.run(h, "--config", path, "--no-state", "--tcp", "off",
                      "--meters", "20", "--start", day + "T00:00",
                      "--until", "1d", "--speed", "max", "--dump", dump)
            assert r.returncode == 0, (kind, day, r.stderr)
            energy[kind, day] = sum(m["registers"]["0080"]
                                    for m in S.dump(dump)["meters"])
    june, dec = energy["pv_exporter", "2026-06-22"], \
        energy["pv_exporter", "2026-12-21"]
    assert dec > 0 and june > 3 * dec, (june, dec)
    june, dec = energy["heat_pump", "2026-06-22"], \
        energy["heat_pump", "2026-12-21"]
    assert june > 0 and dec > 5 * june, (june, dec)
    june, dec = energy["household", "2026-06-22"], \
        energy["household", "2026-12-21"]
    assert dec > 1.1 * june, (june, dec)
    # 20 households: 5 to 16 kWh a day each
    assert 20 * 5 * 0.8 < june < 20 * 16, june


def test_bad_population_entries_name_their_path():
    h = H.harness()
    mix = [{"kind": "household", "share": 1}]
    cases = [
        ({"seed": 1}, "$.population.mix: is missing, not a list of 1..16 "
         "kinds"),
        ({"mix": mix, "colour": 1}, "$.population: unknown key \"colour\""),
        ({"mix": [{"kind": "tram", "share": 1}]},
         "$.population.mix[0].kind: \"tram\" is not a kind (household, "
         "ev_charger, pv_exporter, shop, heat_pump)"),
        ({"mix": [{"kind": "shop"}]}, "$.population.mix[0].share: is "
         "missing"),
        ({"mix": [{"kind": "shop", "share": 0.5}]}, "$.population.mix: the "
         "shares add up to 0.5, not 1"),
        ({"mix": [{"kind": "shop", "share": 1, "kw": [5, 2]}]},
         "$.population.mix[0].kw: [5, 2]: LO is above HI"),
        ({"mix": [{"kind": "shop", "share": 1, "kw": [1, 99]}]},
         "$.population.mix[0].kw[1]: 99 is not 0..23"),
        ({"mix": [{"kind": "shop", "share": 1, "profile": [1] * 23}]},
         "$.population.mix[0].profile: is a list not of 24"),
        ({"mix": [{"kind": "shop", "share": 1, "chance": 0.5}]},
         "$.population.mix[0].chance: is an ev_charger's"),
        ({"mix": [{"kind": "ev_charger", "share": 1, "start": 1.5}]},
         "$.population.mix[0].start: is a number, not a whole number or [LO, HI]"),
        ({"mix": mix, "interval": "7m"}, "$.population.interval: \"7m\": "
         "the loads change at whole intervals of a day"),
    ]
    for pop, want in cases:
        cfg = write_fleet(h, {"population": pop})
        r = S.run(h, "--config", cfg, "--no-state", "--tcp", "off",
                  "--until", "1")
        assert r.returncode == 2, (pop, r.stderr)
        assert "%s: %s" % (cfg, want) in r.stderr, (pop, r.stderr)


if __name__ == "__main__":
    H.main(globals())
