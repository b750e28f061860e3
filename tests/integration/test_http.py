"""The HTTP control API (docs/http.md) against the real binary, from
urllib: every route, bad input (4xx naming the field, nothing changed),
the bearer token, time control, the event stream, /metrics scraped by a
real Prometheus, and the OpenAPI description against the routes served.
Usage: test_http.py KPM31C_SIM [DOCS_DIR]"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
DOCS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "..", "..", "docs")

REG_X_SLAVE = 0x1100
REG_X_RELAY = 0x1131


class Api:
    """A meter with --http on a free port, and calls to it."""

    def __init__(self, h, *args, token=None, state=None):
        self.port = H.free_port()
        self.token = token
        extra = ["--http-token", token] if token else []
        self.sim = S.Sim(h, "--http", "127.0.0.1:%d" % self.port, *extra,
                         *args, state=state)
        ok = H.wait_until(lambda: self.status("GET", "/healthz")[0] == 200,
                          timeout=15)
        assert ok, self.sim.proc.stderr()

    def status(self, method, path, body=None, token=True, raw=None,
               timeout=30):
        """(status, parsed JSON or text) of one request."""
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), data=data,
            method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token and token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                code, text = r.status, r.read().decode()
                ctype = r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
            ctype = e.headers.get("Content-Type", "")
        except OSError:
            return 0, None
        return code, json.loads(text) if "json" in ctype else text

    def ok(self, method, path, body=None, want=200):
        code, res = self.status(method, path, body)
        assert code == want, (method, path, code, res)
        return res

    def bad(self, method, path, body=None, want=400, field=None, raw=None):
        code, res = self.status(method, path, body, raw=raw)
        assert code == want, (method, path, body, code, res)
        assert isinstance(res, dict) and res["error"], res
        if field:
            assert res.get("field") == field, (field, res)
        return res


def start(h, *args, begin="2026-01-01T00:00:00", **kw):
    """A paused meter in fast fidelity at begin (None: where its state
    file's clock stopped) with a steady 1092.5 W load."""
    when = ["--start", begin] if begin else []
    return Api(h, *when, "--speed", "0", "--fidelity", "fast", "--load",
               "U=230,I=5,PF=0.95", *args, **kw)


def test_read_meters_registers_settings():
    h = H.harness()
    a = start(h, "--meters", "2")
    meters = a.ok("GET", "/api/v1/meters")["meters"]
    assert [m["index"] for m in meters] == [0, 1]
    assert [m["slave"] for m in meters] == [1, 2]
    serial = meters[1]["serial"]
    one = a.ok("GET", "/api/v1/meters/%d" % serial)
    assert one["index"] == 1 and one["serial"] == serial
    m = a.ok("GET", "/api/v1/meters/0/measurements")
    assert abs(m["u"] - 230) < 0.01 and abs(m["i"] - 5) < 0.01, m
    assert abs(m["p"] - a.sim.float(0x34)) < 1e-3, m
    assert abs(m["pf"] - 0.95) < 1e-4, m
    e = a.ok("GET", "/api/v1/meters/0/energies")
    assert abs(e["import_kwh"] - a.sim.float(0x82)) < 1e-9, e
    assert e["export_kwh"] == 0, e
    by_name = a.ok("GET", "/api/v1/meters/0/registers/voltage_u")
    by_addr = a.ok("GET", "/api/v1/meters/0/registers/0x0030")
    by_dec = a.ok("GET", "/api/v1/meters/0/registers/48")
    assert by_name == by_addr == by_dec and by_name["unit"] == "V", by_name
    assert by_name["words"] == a.sim.regs(0x30, 2), by_name
    raw = a.ok("GET", "/api/v1/meters/0/registers/0x1100?count=3")
    assert raw["words"] == a.sim.regs(0x1100, 3) and raw["value"] == 1, raw
    regs = a.ok("GET", "/api/v1/meters/0/registers")["registers"]
    keys = {r["key"] for r in regs}
    assert {"voltage_u", "import_active_energy", "slave_address",
            "prepaid_credit", "float_word_order"} <= keys, sorted(keys)
    # a key names one register, even where the manual lists one twice
    assert len(keys) == len(regs), [r["key"] for r in regs]
    for r in regs:
        one = a.ok("GET", "/api/v1/meters/0/registers/" + r["key"])
        assert one["address"] == r["address"], (r, one)
    s = a.ok("GET", "/api/v1/meters/1/settings")
    assert s["slave"] == 2 and s["word_order"] == "ABCD", s
    assert s["tariff"]["zones"][0]["periods"][0] == {
        "start": "06:00", "rate": "sharp"}, s["tariff"]
    assert a.ok("GET", "/api/v1/meters/0/relay") == {"state": "closed",
                                                     "reasons": []}
    c = a.ok("GET", "/api/v1/meters/0/credit")
    assert c["prepaid"] is False and "credit_wh" in c, c
    # the power-on second is measured at once: the clock is past it
    clock = a.ok("GET", "/api/v1/clock")
    assert clock["paused"] and clock["time"] == "2026-01-01T00:00:01", clock
    assert a.ok("GET", "/api/v1/meters/0/clock")["time"] == clock["time"]
    load = a.ok("GET", "/api/v1/meters/0/load")
    assert load["U"] == 230 and load["I"] == 5 and load["PF"] == 0.95, load
    assert load["reactive"] == "L" and load["DIR"] == "import", load
    assert a.ok("GET", "/healthz") == {"status": "ok"}
    assert a.ok("GET", "/readyz")["ready"] is True
    # unknown meters and registers
    a.bad("GET", "/api/v1/meters/2", want=404, field="meter")
    a.bad("GET", "/api/v1/meters/x/energies", want=404, field="meter")
    a.bad("GET", "/api/v1/meters/0/registers/no_such", want=404,
          field="register")
    a.bad("GET", "/api/v1/meters/0/registers/0x0800", want=404,
          field="register")
    a.bad("GET", "/api/v1/meters/0/registers/48?count=200", field="count")


def test_act_load_relay_credit_keys_registers():
    h = H.harness()
    a = start(h)
    res = a.ok("PUT", "/api/v1/meters/0/load",
               {"U": 220, "I": 10, "PF": "0.8C", "F": 60})
    assert res["reactive"] == "C" and res["F"] == 60, res
    a.ok("POST", "/api/v1/clock/advance", {"by": 2})
    m = a.ok("GET", "/api/v1/meters/0/measurements")
    assert abs(m["u"] - 220) < 0.01 and abs(m["p"] - 1760) < 0.5, m
    assert m["q"] < 0 and abs(m["f"] - 60) < 0.01, m
    a.ok("PUT", "/api/v1/meters/0/load", {"spec": "U=230,I=3,DIR=export"})
    a.ok("POST", "/api/v1/clock/advance", {"by": 2})
    assert a.ok("GET", "/api/v1/meters/0/measurements")["p"] < -680
    # bad loads name the field and change nothing
    a.bad("PUT", "/api/v1/meters/0/load", {"U": 230, "I": 500}, field="I")
    a.bad("PUT", "/api/v1/meters/0/load", {"PF": "x"}, field="PF")
    a.bad("PUT", "/api/v1/meters/0/load", {"Volts": 1}, field="Volts")
    a.bad("PUT", "/api/v1/meters/0/load", {"U": [1]}, field="U")
    a.bad("PUT", "/api/v1/meters/0/load", {"spec": "U=1,Q=2"}, field="spec")
    a.bad("PUT", "/api/v1/meters/0/load", {}, field="body")
    assert a.ok("GET", "/api/v1/meters/0/load")["DIR"] == "export"
    # the relay, over the same entry points as Modbus sees
    assert a.ok("PUT", "/api/v1/meters/0/relay",
                {"state": "open"})["relay"] == "open"
    assert a.sim.regs(REG_X_RELAY, 1) == [0]
    r = a.ok("GET", "/api/v1/meters/0/relay")
    assert r == {"state": "open", "reasons": ["remote"]}, r
    a.bad("PUT", "/api/v1/meters/0/relay", {"state": "ajar"}, field="state")
    a.ok("PUT", "/api/v1/meters/0/relay", {"state": "closed"})
    assert a.sim.regs(REG_X_RELAY, 1) == [1]
    # credit
    assert a.ok("PUT", "/api/v1/meters/0/credit",
                {"wh": 1000})["credit_wh"] == 1000
    assert a.ok("POST", "/api/v1/meters/0/credit/topup",
                {"kwh": 2.5})["credit_wh"] == 3500
    a.bad("POST", "/api/v1/meters/0/credit/topup", {"wh": 0}, field="wh")
    a.bad("POST", "/api/v1/meters/0/credit/topup", {"wh": 1, "kwh": 1})
    assert a.ok("GET", "/api/v1/meters/0/credit")["credit_wh"] == 3500
    # keys: into the set-up menu and out, nothing changed
    k = a.ok("POST", "/api/v1/meters/0/keys", {"key": "down", "presses": 3})
    assert k["presses"] == 3 and k["settings_changed"] is False, k
    a.ok("POST", "/api/v1/meters/0/keys", {"key": "left", "long": True})
    a.bad("POST", "/api/v1/meters/0/keys", {"key": "up"}, field="key")
    a.bad("POST", "/api/v1/meters/0/keys", {"key": "down", "presses": 0},
          field="presses")
    # a register write: the meter's own rules
    a.ok("PUT", "/api/v1/meters/0/registers/demand_period", {"value": 30})
    assert a.ok("GET", "/api/v1/meters/0/settings")["demand_period"] == 30
    a.bad("PUT", "/api/v1/meters/0/registers/0x1100", {"value": 300},
          field="value")
    a.bad("PUT", "/api/v1/meters/0/registers/0x0030", {"words": [1, 2]},
          want=409, field="words")
    a.bad("PUT", "/api/v1/meters/0/registers/0x1100", {"words": [70000]},
          field="words")
    # the meter's clock
    a.ok("PUT", "/api/v1/meters/0/clock", {"time": "2026-01-01T12:00:00"})
    assert a.ok("GET", "/api/v1/meters/0/clock")["time"].startswith(
        "2026-01-01T12:00")
    a.bad("PUT", "/api/v1/meters/0/clock", {"time": "yesterday"},
          field="time")


LOAD_LUA = ('{U = 230, P = 1000, PF = "0.8C", dir = "export", '
            'harmonics = {[5] = 30, {3, I = 60, V = 2, phase = 10}}}')
LOAD_JSON = {"U": 230, "P": 1000, "PF": "0.8C", "dir": "export",
             "harmonics": [{"order": 5, "I": 30},
                           {"order": 3, "I": 60, "V": 2, "phase": 10}]}


def test_load_takes_the_scenario_fields():
    """PUT .../load takes m:load{}'s fields (P, angle, dir, harmonics,
    noise): the meter reads what a scenario's load reads; PATCH changes
    the fields it names; a bad field is named and changes nothing."""
    h = H.harness()
    a = start(h, "--no-state")
    res = a.ok("PUT", "/api/v1/meters/0/load", LOAD_JSON)
    assert [x["order"] for x in res["harmonics"]] == [3, 5], res
    assert res["DIR"] == "export" and res["reactive"] == "C", res
    a.ok("POST", "/api/v1/clock/advance", {"by": 2})
    m = a.ok("GET", "/api/v1/meters/0/measurements")
    lua = h.path("load.lua")
    with open(lua, "w") as f:
        f.write('local m = meter(1)\nm:load%s\nadvance("2s")\n'
                'local x = m:measure()\n'
                'print(string.format("%%.9g %%.9g %%.9g %%.9g", x.U, x.I, '
                'x.P, x.Q))\n' % LOAD_LUA)
    r = S.run(h, lua, "-q", "--no-state", "--tcp", "off", "--fidelity",
              "fast", "--start", "2026-01-01")
    assert r.returncode == 0, r.stderr + r.stdout
    u, i, p, q = (float(x) for x in r.stdout.splitlines()[0].split())
    # the same load: the same readings (float32 of the same numbers)
    for got, want in ((m["u"], u), (m["i"], i), (m["p"], p), (m["q"], q)):
        assert abs(got - want) <= 1e-6 * abs(want) + 1e-6, (m, u, i, p, q)
    assert p < -990 and i > 6.5, (u, i, p, q)   # harmonics add current
    # PATCH: only what it names
    res = a.ok("PATCH", "/api/v1/meters/0/load",
               {"noise": {"U": 0.2}, "F": 60})
    assert res["F"] == 60 and res["noise"]["U"] == 0.2, res
    assert len(res["harmonics"]) == 2 and res["DIR"] == "export", res
    res = a.ok("PATCH", "/api/v1/meters/0/load",
               {"harmonics": False, "noise": False, "angle": 30})
    assert res["harmonics"] == [] and res["noise"]["U"] == 0, res
    assert abs(res["PF"] - 0.866025) < 1e-6, res
    # PUT: the fields not given take the defaults
    res = a.ok("PUT", "/api/v1/meters/0/load", {"I": 2})
    assert res["U"] == 230 and res["PF"] == 1 and res["F"] == 50, res
    assert res["DIR"] == "import" and res["harmonics"] == [], res
    before = a.ok("GET", "/api/v1/meters/0/load")
    for body, field in (
            ({"U": 600}, "U"), ({"U": "230"}, "U"), ({"F": 20}, "F"),
            ({"I": 1, "P": 1}, "P"), ({"PF": 0.9, "angle": 10}, "angle"),
            ({"PF": -0.9, "dir": "import"}, "PF"), ({"dir": "up"}, "dir"),
            ({"P": 1e6}, "P"), ({"U": 0, "P": 100}, "P"),
            ({"I": 1, "harmonics": {"1": 10}}, "harmonics"),
            ({"I": 1, "harmonics": {"3": 300}}, "harmonics"),
            ({"I": 1, "harmonics": {"x": 3}}, "harmonics"),
            ({"I": 1, "harmonics": [{"order": 3, "I": 1, "amp": 2}]},
             "harmonics"),
            ({"I": 1, "harmonics": [{"order": 3}, {"order": 3}]},
             "harmonics"),
            ({"I": 1, "harmonics": {str(k): 1 for k in range(2, 12)}},
             "harmonics"),
            ({"I": 1, "harmonics": 3}, "harmonics"),
            ({"I": 1, "noise": {"U": 100}}, "noise"),
            ({"I": 1, "noise": {"V": 1}}, "noise"),
            ({"I": 1, "noise": True}, "noise"),
            ({"I": 1, "volts": 1}, "volts"),
            ({"I": 1, "spec": "I=1"}, "spec")):
        for method in ("PUT", "PATCH"):
            res = a.bad(method, "/api/v1/meters/0/load", body, field=field)
        assert a.ok("GET", "/api/v1/meters/0/load") == before, (body, res)
    a.bad("PATCH", "/api/v1/meters/0/load", raw=b"[1]", field="body")


def test_settings_persist_and_nothing_half_applied():
    h = H.harness()
    state = h.path("m.state")
    a = start(h, state=state)
    # a good slave with a bad demand step: nothing changes
    a.bad("PATCH", "/api/v1/meters/0/settings",
          {"slave": 7, "demand_slide": 7}, field="demand_slide")
    a.bad("PATCH", "/api/v1/meters/0/settings", {"slave": 7, "baud": 300},
          field="baud")
    a.bad("PATCH", "/api/v1/meters/0/settings", {"parity": "X"},
          field="parity")
    a.bad("PATCH", "/api/v1/meters/0/settings", {"colour": "red"},
          field="colour")
    assert a.sim.regs(REG_X_SLAVE, 1) == [1]
    s = a.ok("PATCH", "/api/v1/meters/0/settings",
             {"slave": 7, "word_order": "CDAB", "prepaid": True,
              "demand_period": 30, "demand_slide": 5})
    assert s["slave"] == 7 and s["word_order"] == "CDAB" and s["prepaid"]
    assert a.sim.regs(REG_X_SLAVE, 1, unit=7) == [7]
    # the log says what changed, and that the API changed it
    a.sim.proc.wait_stderr(r"meter 31000001: slave 1 -> 7 \(HTTP\)")
    a.ok("PUT", "/api/v1/meters/0/settings/tariff", {"zones": [
        {"start": "01-01", "periods": [{"start": "00:00", "rate": "flat"}]}]})
    a.bad("PUT", "/api/v1/meters/0/settings/tariff", {"zones": [
        {"start": "01-01", "periods": [{"start": "25:00", "rate": 1}]}]},
        field="zones[0].periods[0].start")
    a.sim.stop()
    b = start(h, "--slave", "7", state=state, begin=None)
    s = b.ok("GET", "/api/v1/meters/0/settings")
    assert s["word_order"] == "CDAB" and s["demand_period"] == 30, s
    assert s["tariff"]["zones"][0]["periods"] == [{"start": "00:00",
                                                   "rate": "flat"}], s


def test_a_change_the_state_file_cannot_keep_is_not_acknowledged():
    """As a Modbus write gets exception 04, an API change the state file
    could not keep answers 503 naming the file and the reason (in place
    in the meter all the same); once the file can be written again the
    same request is acknowledged. (The directory renamed away fails a
    save for root too.)"""
    h = H.harness()
    os.mkdir(h.path("d"))
    state = h.path("d/meter.state")
    a = start(h, state=state)
    os.rename(h.path("d"), h.path("gone"))
    for method, path, body in (
            ("PATCH", "/api/v1/meters/0/settings", {"word_order": "CDAB"}),
            ("PUT", "/api/v1/meters/0/registers/0x1103", {"words": [0]}),
            ("PUT", "/api/v1/meters/0/credit", {"wh": 7})):
        code, res = a.status(method, path, body)
        assert code == 503, (method, path, code, res)
        assert res["field"] == "state" and state in res["error"], res
        assert res["status"] == 503, res
    # in place all the same, as a Modbus write is
    assert a.ok("GET", "/api/v1/meters/0/credit")["credit_wh"] == 7
    # reading is no change: answered
    a.ok("GET", "/api/v1/meters/0/settings")
    os.rename(h.path("gone"), h.path("d"))
    a.ok("PUT", "/api/v1/meters/0/credit", {"wh": 8})
    a.sim.stop()
    b = start(h, state=state, begin=None)
    assert b.ok("GET", "/api/v1/meters/0/credit")["credit_wh"] == 8


def test_a_slave_address_another_meter_has_is_refused():
    """PATCH settings or a register write onto another meter's address is
    refused (409 naming that meter), as the fleet file refuses it;
    nothing changes and every meter stays reachable."""
    h = H.harness()
    a = start(h, "--meters", "3")
    r = a.bad("PATCH", "/api/v1/meters/0/settings",
              {"slave": 2, "word_order": "CDAB"}, want=409, field="slave")
    assert "meter 1" in r["error"] and "31000002" in r["error"], r
    r = a.bad("PUT", "/api/v1/meters/0/registers/0x1100", {"value": 3},
              want=409, field="value")
    assert "meter 2" in r["error"], r
    a.bad("PUT", "/api/v1/meters/0/registers/0x1100", {"words": [2]},
          want=409, field="words")
    s = a.ok("GET", "/api/v1/meters/0/settings")
    assert s["slave"] == 1 and s["word_order"] == "ABCD", s
    for unit in (1, 2, 3):
        assert a.sim.regs(REG_X_SLAVE, 1, unit=unit) == [unit]
    # its own address, or a free one, is fine
    assert a.ok("PATCH", "/api/v1/meters/0/settings",
                {"slave": 1})["slave"] == 1
    assert a.ok("PATCH", "/api/v1/meters/0/settings",
                {"slave": 9})["slave"] == 9
    assert a.sim.regs(REG_X_SLAVE, 1, unit=9) == [9]


def test_faults():
    h = H.harness()
    a = start(h)
    f = a.ok("POST", "/api/v1/faults", {"spec": "busy,slave=1"}, want=201)
    assert f["spec"].startswith("busy") and f["id"] > 0, f
    with H.tcp_connect(a.sim.port) as s:
        assert H.exception_of(H.tcp_request(s, H.pdu_read(0x30, 2))) == 6
    assert [x["id"] for x in a.ok("GET", "/api/v1/faults")["faults"]] == \
        [f["id"]]
    a.bad("POST", "/api/v1/faults", {"spec": "busy,p=2"}, field="spec")
    a.bad("POST", "/api/v1/faults", {"spec": 3}, field="spec")
    a.ok("DELETE", "/api/v1/faults/%d" % f["id"])
    a.bad("DELETE", "/api/v1/faults/%d" % f["id"], want=404, field="id")
    assert a.sim.regs(0x30, 2)
    a.ok("POST", "/api/v1/faults", {"spec": "noreply"}, want=201)
    assert a.ok("DELETE", "/api/v1/faults")["faults"] == []
    assert a.sim.regs(0x30, 2)


def test_time_pause_speed_advance():
    h = H.harness()
    a = start(h, "--until", "2026-03-01T00:00:00")
    c = a.ok("POST", "/api/v1/clock/advance", {"to": "2026-01-02T00:00:00"})
    assert c["time"] == "2026-01-02T00:00:00" and c["paused"], c
    e = a.ok("GET", "/api/v1/meters/0/energies")
    assert abs(e["import_kwh"] - 1.0925 * 24) < 0.01, e
    c = a.ok("POST", "/api/v1/clock/advance", {"by": "1h"})
    assert c["time"] == "2026-01-02T01:00:00", c
    # two advances at once: each answered at its own target
    out = {}

    def adv(key, body):
        out[key] = a.status("POST", "/api/v1/clock/advance", body)

    t1 = threading.Thread(target=adv, args=("a", {"by": "2h"}))
    t2 = threading.Thread(target=adv, args=("b", {"by": "1d"}))
    t1.start()
    t2.start()
    t1.join(60)
    t2.join(60)
    assert out["a"][0] == out["b"][0] == 200, out
    # each answered at its own target, from the clock when it came
    # (01:00, or the other one's end)
    assert out["a"][1]["time"] in ("2026-01-02T03:00:00",
                                   "2026-01-03T03:00:00"), out
    assert out["b"][1]["time"] in ("2026-01-03T01:00:00",
                                   "2026-01-03T03:00:00"), out
    assert out["a"][1]["time"] != out["b"][1]["time"], out
    # the settlement of January applies on the way to February
    a.ok("POST", "/api/v1/clock/advance", {"to": "2026-02-01T00:00:00"})
    prev = a.ok("GET", "/api/v1/meters/0/registers/0x009C")["value"]
    assert abs(prev - 1.0925 * 24 * 31) < 0.5, prev
    a.bad("POST", "/api/v1/clock/advance", {"to": "2026-01-01T00:00:00"},
          want=409, field="to")
    a.bad("POST", "/api/v1/clock/advance", {"to": "2026-04-01T00:00:00"},
          want=409, field="to")
    a.bad("POST", "/api/v1/clock/advance", {"by": "soon"}, field="by")
    a.bad("POST", "/api/v1/clock/advance", {"by": 1, "to": "x"}, field="to")
    # speed and pause
    c = a.ok("PUT", "/api/v1/clock/speed", {"speed": 100})
    assert c["speed"] == 100 and not c["paused"], c
    t0 = c["time_ms"]
    assert H.wait_until(lambda: a.ok("GET", "/api/v1/clock")["time_ms"] >
                        t0 + 1000, timeout=20)
    c = a.ok("POST", "/api/v1/clock/pause")
    assert c["paused"], c
    t1 = a.ok("GET", "/api/v1/clock")["time_ms"]
    assert a.ok("GET", "/api/v1/clock")["time_ms"] == t1
    c = a.ok("POST", "/api/v1/clock/resume")
    assert c["speed"] == 100 and not c["paused"], c
    assert a.ok("PUT", "/api/v1/clock/speed", {"speed": "max"})["speed"] == \
        "max"
    a.ok("PUT", "/api/v1/clock/speed", {"speed": 0})
    a.bad("PUT", "/api/v1/clock/speed", {"speed": -1}, field="speed")
    a.bad("PUT", "/api/v1/clock/speed", {"speed": "fast"}, field="speed")


def test_advance_runs_fast_in_a_full_process():
    """A process in full fidelity advances in fast fidelity and returns to
    full: its energies are those of a process that ran fast (within fast
    fidelity's tolerance, docs/performance.md), no window is lost or
    counted twice at a switch, and energy never goes backwards."""
    h = H.harness()
    full = start(h, "--fidelity", "full")
    fast = start(h, state=h.path("fast.state"))
    assert full.ok("GET", "/api/v1/clock")["fidelity"] == "full"
    seen = []

    def energy(a):
        e = a.ok("GET", "/api/v1/meters/0/energies")
        if a is full:
            assert not seen or e["import_kwh"] >= seen[-1], (seen, e)
            seen.append(e["import_kwh"])
        return e

    def same(at):
        c = fast.ok("POST", "/api/v1/clock/advance", {"to": at})
        assert c["time"] == at, c
        ef, eq = energy(full), energy(fast)
        for k in ("import_kwh", "reactive_kvarh"):
            # P within 0.05 % of S, Q within 0.2 % of S (test_fidelity)
            assert abs(ef[k] - eq[k]) <= 2e-3 * eq[k] + 1e-9, (at, k, ef, eq)
        # a 10 ms step's energy of 1092.5 W is 3e-6 kWh: a window (of
        # whole cycles) lost or counted twice is ten times that
        assert abs(ef["import_kwh"] - eq["import_kwh"]) < 3e-6, (at, ef, eq)

    # full -> fast at the power-on second's end, and back
    c = full.ok("POST", "/api/v1/clock/advance", {"by": 10})
    assert c["fidelity"] == "full" and c["time"] == "2026-01-01T00:00:11", c
    same(c["time"])
    # real samples at speed 1, paused anywhere in a second: the advance
    # runs full fidelity to the second's end, then fast
    t0 = full.ok("PUT", "/api/v1/clock/speed", {"speed": 1})["time_ms"]
    assert H.wait_until(lambda: energy(full) and full.ok(
        "GET", "/api/v1/clock")["time_ms"] > t0 + 2500, timeout=30)
    full.ok("POST", "/api/v1/clock/pause")
    energy(full)
    c = full.ok("POST", "/api/v1/clock/advance", {"by": 10})
    assert c["fidelity"] == "full" and c["paused"], c
    same(c["time"])
    c = full.ok("POST", "/api/v1/clock/advance", {"by": "1d"})
    assert c["fidelity"] == "full", c
    same(c["time"])
    # the fidelity switched over the API
    c = full.ok("PUT", "/api/v1/clock/fidelity", {"fidelity": "fast"})
    assert c["fidelity"] == "fast", c
    full.bad("PUT", "/api/v1/clock/fidelity", {"fidelity": "slow"},
             field="fidelity")
    full.bad("PUT", "/api/v1/clock/fidelity", {"fidelity": 1},
             field="fidelity")
    full.bad("PUT", "/api/v1/clock/fidelity", {"speed": 1}, field="speed")
    assert full.ok("GET", "/api/v1/clock")["fidelity"] == "fast"


def test_advance_answered_when_the_run_ends():
    h = H.harness()
    a = start(h, "--until", "2026-01-01T01:00:00")
    code, res = a.status("POST", "/api/v1/clock/advance",
                         {"to": "2026-01-01T01:00:00"})
    # the clock reached --until: answered, then the process ends
    assert code in (200, 503), (code, res)
    assert H.wait_until(lambda: not a.sim.proc.running(), timeout=30)
    assert a.sim.proc.p.returncode == 0, a.sim.proc.stderr()


TARGET = "2026-05-01T00:00:00"


def advancing(h):
    """Ten meters at speed 1 with an advance to TARGET under way: the API,
    the advance's thread, and a dict that gets its (status, answer)."""
    a = start(h, "--meters", "10")
    a.ok("PUT", "/api/v1/clock/speed", {"speed": 1})
    done = {}

    def advance():
        done["res"] = a.status("POST", "/api/v1/clock/advance",
                               {"to": TARGET}, timeout=600)
    t = threading.Thread(target=advance)
    t.start()
    assert H.wait_until(lambda: a.ok("GET", "/api/v1/clock")["advance"],
                        timeout=30), "the advance did not start"
    return a, t, done


def test_pause_and_resume_during_an_advance():
    """A clock at speed 1 paused and resumed while an advance runs ends
    at speed 1, as a pause and a resume do at any other time; a pause
    during the advance is for after it, and its answer says so."""
    a, t, done = advancing(H.harness())
    paused = a.ok("POST", "/api/v1/clock/pause")
    resumed = a.ok("POST", "/api/v1/clock/resume")
    t.join()
    assert done["res"][0] == 200, done
    assert paused["time"] < TARGET, "the advance ended before the pause"
    # the truth now (running at max), and what comes at the instant
    assert paused["speed"] == "max" and not paused["paused"], paused
    assert paused["advance"]["to"] == TARGET, paused
    assert paused["advance"]["then_paused"] is True, paused
    assert paused["advance"]["then_speed"] == 0, paused
    if resumed["advance"]:
        assert resumed["advance"]["then_speed"] == 1, resumed
        assert resumed["advance"]["then_paused"] is False, resumed
    assert done["res"][1]["advance"] is None, done
    after = a.ok("GET", "/api/v1/clock")
    assert after["speed"] == 1 and not after["paused"], (after, paused,
                                                         resumed)
    assert after["advance"] is None, after


def test_pause_during_an_advance_then_resume_runs_at_the_old_speed():
    """Paused during an advance, the clock stops at the advance's instant;
    a resume afterwards runs at the speed before the advance (1), never
    at the advance's own max."""
    a, t, done = advancing(H.harness())
    paused = a.ok("POST", "/api/v1/clock/pause")
    t.join()
    assert paused["time"] < TARGET, "the advance ended before the pause"
    assert done["res"][0] == 200, done
    c = a.ok("GET", "/api/v1/clock")
    assert c["paused"] is True and c["time"] == TARGET, c
    resumed = a.ok("POST", "/api/v1/clock/resume")
    a.ok("POST", "/api/v1/clock/pause")        # stop a runaway clock
    assert resumed["speed"] == 1, (
        "resume after a pause taken during an advance runs at %r, not at "
        "the speed 1 the clock had" % resumed["speed"])


def read_events(a, query, n, action, timeout=30):
    """Open the stream, run action, return the first n events (fewer if
    they do not come within timeout)."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=timeout)
    sock.sendall(("GET /api/v1/events%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "\r\n" % query).encode())
    f = sock.makefile("rb")
    status = f.readline().decode()
    assert " 200 " in status, status
    while f.readline() not in (b"\r\n", b""):
        pass
    events, name = [], None
    acted = False
    while len(events) < n and time.monotonic() < deadline:
        line = f.readline().decode()
        if not line:
            break
        line = line.strip()
        if not acted and line.startswith(":"):
            action()
            acted = True
        # chunked framing: keep only the SSE lines
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    sock.close()
    return events


def test_event_stream():
    h = H.harness()
    a = start(h)
    ev = read_events(a, "?events=pulse", 10, lambda: a.ok(
        "POST", "/api/v1/clock/advance", {"by": 60}))
    assert [e[0] for e in ev] == ["pulse"] * 10, ev
    counts = [e[1]["count"] for e in ev]
    assert counts == list(range(counts[0], counts[0] + 10)), counts
    assert ev[0][1]["serial"] == 31000001 and ev[0][1]["time"].startswith(
        "2026-01-01T00:0"), ev[0]
    ev = read_events(a, "?events=relay", 1, lambda: a.ok(
        "PUT", "/api/v1/meters/0/relay", {"state": "open"}))
    assert [e[1]["state"] for e in ev if e[0] == "relay"] == ["open"], ev
    ev = read_events(a, "?events=telemetry", 1, lambda: None)
    assert ev[0][1]["u"] > 229 and ev[0][1]["relay"] == "open", ev
    ev = read_events(a, "?events=settled", 1, lambda: a.ok(
        "POST", "/api/v1/clock/advance", {"to": "2026-02-01T00:00:00"}))
    assert ev[0][1]["month_end"] == "2026-02-01T00:00:00", ev
    ev = read_events(a, "?events=log", 1, lambda: a.ok(
        "PUT", "/api/v1/clock/speed", {"speed": 2}))
    assert "speed" in ev[0][1]["message"], ev
    a.bad("GET", "/api/v1/events?events=weather", field="events")


def raw_get(a, path, headers=None):
    """(status, headers, body bytes) of a GET, 304 included."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (a.port, path),
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_face_lcd_held_keys_scope_pages_and_modbus_events():
    h = H.harness()
    a = start(h)
    lcd = a.ok("GET", "/api/v1/meters/0/lcd")
    assert lcd["text"] == "U   230.0" and "V" in lcd["icons"], lcd
    assert len(lcd["digits"]) == 8 and lcd["digits"][-1] == 0x3F, lcd
    a.bad("GET", "/api/v1/meters/9/lcd", want=404, field="meter")

    # a key held through press and release: left pages up at once, and
    # held on (real time on the key counter, the clock paused) 3 s opens
    # the password page
    f = a.ok("POST", "/api/v1/meters/0/keys", {"key": "left",
                                               "action": "press"})
    assert f["held"]["left"] and f["text"].startswith("d"), f
    assert H.wait_until(lambda: a.ok("GET", "/api/v1/meters/0/lcd")["text"]
                        == "CodE0000", timeout=30, step=0.2)
    f = a.ok("POST", "/api/v1/meters/0/keys", {"key": "left",
                                               "action": "release"})
    assert not f["held"]["left"] and f["text"] == "CodE0000", f
    assert "set" in f["icons"], f
    a.bad("POST", "/api/v1/meters/0/keys", {"key": "left", "action": "hold"},
          field="action")
    a.bad("POST", "/api/v1/meters/0/keys", {"key": "left", "action": "press",
                                            "presses": 2}, field="action")

    # the scope: three cycles of 50 Hz at 8 kHz, 230 V rms
    sc = a.ok("GET", "/api/v1/meters/0/scope")
    assert sc["sample_rate"] == 8000 and sc["f"] == 50.0, sc["f"]
    assert len(sc["v"]) == len(sc["i"]) == 480, len(sc["v"])
    assert abs(max(sc["v"]) - 325.27) < 1.0, max(sc["v"])
    assert abs(max(sc["i"]) - 7.07) < 0.1, max(sc["i"])

    # the pages and files, their types and entity tags
    code, hd, body = raw_get(a, "/")
    assert code == 200 and hd["Content-Type"] == "text/html; charset=utf-8"
    assert b"fleet.js" in body and hd["Cache-Control"] == "no-cache", hd
    code, _, _ = raw_get(a, "/", {"If-None-Match": hd["ETag"]})
    assert code == 304, code
    code, hd, body = raw_get(a, "/meter/31000001")
    assert code == 200 and b"face.js" in body, code
    code, hd, _ = raw_get(a, "/web/face.js")
    assert hd["Content-Type"] == "text/javascript; charset=utf-8", hd
    assert raw_get(a, "/web/style.css")[1]["Content-Type"].startswith(
        "text/css")
    assert raw_get(a, "/web/icon.svg")[1]["Content-Type"] == "image/svg+xml"
    for path in ("/meter/7", "/web/nothing.js", "/web/index.html"):
        assert raw_get(a, path)[0] == 404, path

    # Modbus frames in the event stream
    ev = read_events(a, "?events=modbus", 1, lambda: a.sim.float(0x30))
    assert ev and ev[0][0] == "modbus", ev
    m = ev[0][1]
    assert (m["transport"], m["slave"], m["meter"], m["function"],
            m["address"], m["count"], m["reply"]) == \
        ("tcp", 1, 0, 3, 0x30, 2, "ok"), m
    # the request's bytes in hex, every one (MBAP + PDU: 12)
    assert m["length"] == 12 and len(m["bytes"].split()) == 12, m
    assert m["bytes"].endswith("01 03 00 30 00 02"), m

    def read_unit_9():
        with H.tcp_connect(a.sim.port) as sock:
            H.tcp_request(sock, H.pdu_read(0x30, 2), unit=9)
    ev = read_events(a, "?events=modbus", 1, read_unit_9)
    assert ev and ev[0][1]["reply"] == {"exception": 11}, ev
    assert "meter" not in ev[0][1], ev


def test_scenario_captions_in_the_event_stream():
    # a scenario's caption() reaches the stream; a page that connects
    # mid-story gets the caption showing first
    h = H.harness()
    story = h.path("story.lua")
    with open(story, "w") as f:
        f.write('caption("Kettle on")\nadvance("1h")\n'
                'caption("Sun comes out")\nadvance("1h")\n')
    a = Api(h, "--start", "2026-01-01T00:00:00", "--speed", "1",
            "--fidelity", "fast", story)
    ev = read_events(a, "?events=caption", 2, lambda: a.ok(
        "POST", "/api/v1/clock/advance", {"by": "1h"}))
    assert ev == [("caption", {"text": "Kettle on"}),
                  ("caption", {"text": "Sun comes out"})], ev


def test_mqtt_messages_in_the_event_stream():
    import mqtt_peer
    h = H.harness()
    b = mqtt_peer.Broker(h)
    a = start(h, "--mqtt", "mqtt://127.0.0.1:%d" % b.port)
    a.ok("PATCH", "/api/v1/meters/0/settings", {"uplink": "mqtt"})

    def publish():
        a.ok("POST", "/api/v1/clock/advance", {"by": "2m"})
    ev = read_events(a, "?events=mqtt", 1, publish)
    assert ev and ev[0][0] == "mqtt", ev
    m = ev[0][1]
    assert m["meter"] == 0 and m["direction"] == "out", m
    assert m["topic"] and len(m["payload"]) <= 160 <= m["length"] or \
        len(m["payload"]) == m["length"], m


def test_a_client_that_stops_reading_loses_events_counted():
    """An event client that stops reading holds up nothing: the events it
    has no room for are counted and told in a "dropped" event once it
    reads again, so what it got plus what it lost is every pulse."""
    h = H.harness()
    a = start(h, "--meters", "50", "--load", "U=230,I=40,PF=1")

    def pulses():
        return sum(a.ok("GET", "/api/v1/meters/%d/energies" % k)["pulses"]
                   for k in range(50))

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", a.port))
    conn = http.client.HTTPConnection("127.0.0.1", a.port)
    conn.sock = sock
    conn.request("GET", "/api/v1/events?events=pulse")
    stream = conn.getresponse()         # reads the chunks as they come
    assert stream.status == 200, stream.status
    assert H.wait_until(lambda: "kpm31c_http_event_streams 1" in a.status(
        "GET", "/metrics")[1], timeout=20)
    before = pulses()
    # 50 x 9.2 kW for a day: 17.7 million pulses, some 2 GB of events
    a.ok("POST", "/api/v1/clock/advance", {"by": "1d"})
    made = pulses() - before
    assert made > 17000000, made
    # still connected: not held up until the server gave up on it
    assert "kpm31c_http_event_streams 1" in a.status("GET", "/metrics")[1]

    def uptime():
        for line in a.status("GET", "/metrics")[1].splitlines():
            if line.startswith("kpm31c_uptime_seconds "):
                return float(line.split()[1])
    # real seconds go by with the client's buffer full: their keep-alives
    # are not events lost, nor is the count of those lost
    u0 = uptime()
    assert H.wait_until(lambda: uptime() >= u0 + 2.5, timeout=30)
    # the client reads again: every pulse is an event or counted lost
    got = lost = 0
    while got + lost < made:
        line = stream.readline()
        assert line, (got, lost, made)
        if line.startswith(b"event: pulse"):
            got += 1
        elif line.startswith(b"data: {\"events\""):
            lost += json.loads(line[6:])["events"]
    sock.close()
    assert got + lost == made and lost > 0 and got > 1000, (got, lost, made)


def test_event_stream_clients_are_capped_and_health_stays_reachable():
    """32 event-stream clients at once: the 33rd gets a 503 in JSON, one
    that leaves makes room; connections that never end their headers
    do not keep /healthz from answering."""
    h = H.harness()
    a = start(h)
    socks = []

    def stream():
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
        s.sendall(b"GET /api/v1/events?events=relay HTTP/1.1\r\n"
                  b"Host: 127.0.0.1\r\n\r\n")
        return s, s.makefile("rb").readline().decode()

    try:
        for _ in range(32):
            s, status = stream()
            socks.append(s)
            assert " 200 " in status, status
        code, res = a.status("GET", "/api/v1/events")
        assert code == 503 and "32" in res["error"], (code, res)
        assert a.ok("GET", "/healthz") == {"status": "ok"}
        socks.pop().close()

        def room():
            s, status = stream()
            if " 200 " in status:
                socks.append(s)
                return True
            s.close()
            return False
        assert H.wait_until(room, timeout=15), "no room after one left"
    finally:
        for s in socks:
            s.close()
    # headers that never end: the API answers meanwhile, and the server
    # closes such a connection (after 5 s) rather than keep its slot
    half = [socket.create_connection(("127.0.0.1", a.port), timeout=40)
            for _ in range(20)]
    try:
        for s in half:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert a.ok("GET", "/healthz") == {"status": "ok"}
        assert half[0].recv(100) == b"", "a trickling client kept its slot"
    finally:
        for s in half:
            s.close()


def test_a_client_that_hangs_up_mid_advance():
    """An advance whose client hangs up goes on to its instant (what a
    request changes is done, answered or not); the API serves on."""
    h = H.harness()
    a = start(h)
    body = b'{"by": "2d"}'
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=30)
    sock.sendall(b"POST /api/v1/clock/advance HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    sock.close()
    assert H.wait_until(lambda: a.ok("GET", "/api/v1/clock")["time"] ==
                        "2026-01-03T00:00:01", timeout=60)
    c = a.ok("GET", "/api/v1/clock")
    assert c["paused"], c
    c = a.ok("POST", "/api/v1/clock/advance", {"by": 1})
    assert c["time"] == "2026-01-03T00:00:02", c


def test_bad_requests():
    h = H.harness()
    a = start(h)
    a.bad("GET", "/nothing", want=404)
    a.bad("DELETE", "/api/v1/meters/0/load", want=405)
    a.bad("PUT", "/api/v1/meters/0/load", raw=b"{", field="body")
    a.bad("PUT", "/api/v1/meters/0/load", raw=b"[1]", field="body")
    a.bad("PUT", "/api/v1/meters/0/load", raw=b'{"U":1,"U":2}', field="body")
    a.bad("PUT", "/api/v1/meters/0/load", raw=b"{" + b" " * 70000 + b"}",
          want=413, field="body")
    a.bad("PUT", "/api/v1/meters/0/relay", want=400)
    assert a.ok("GET", "/api/v1/meters/0/load")["I"] == 5
    # a meter is named by decimal digits alone
    for name in ("0x0", "00", "%200", "-0", "1e0"):
        a.bad("GET", "/api/v1/meters/%s" % name, want=404, field="meter")
    # a span past the clock's end is refused, not wrapped round
    for by in (9223372036854775807, 2 ** 62, 4 * 10 ** 9):
        a.bad("POST", "/api/v1/clock/advance", {"by": by}, want=409,
              field="by")
    assert a.ok("GET", "/api/v1/clock")["time"] == "2026-01-01T00:00:01"
    # a duration past the clock's end is beyond it, not a bad value
    a.bad("POST", "/api/v1/clock/advance", {"by": "106751991167d"},
          want=409, field="by")
    a.bad("POST", "/api/v1/clock/advance", {"by": "99999999999999999999h"},
          want=409, field="by")
    a.bad("POST", "/api/v1/clock/advance", {"by": "1x"}, field="by")
    # a load's key given twice, a kWh that is no whole Wh: refused
    r = a.bad("PUT", "/api/v1/meters/0/load", {"spec": "U=230,I=5,U=100"},
              field="spec")
    assert "U is given twice" in r["error"], r
    a.bad("PUT", "/api/v1/meters/0/credit", {"kwh": 0.0001}, field="kwh")
    assert a.ok("PUT", "/api/v1/meters/0/credit",
                {"kwh": 0.001})["credit_wh"] == 1
    a.bad("PUT", "/api/v1/meters/0/load", {"PF": -0.8, "DIR": "import"},
          field="PF")
    # the meter refusing a top-up past its maximum: 409 naming the field
    a.ok("PUT", "/api/v1/meters/0/credit", {"wh": 4294967295})
    a.bad("POST", "/api/v1/meters/0/credit/topup", {"wh": 1}, want=409,
          field="wh")
    a.bad("POST", "/api/v1/meters/0/credit/topup", {"kwh": 1}, want=409,
          field="kwh")
    assert a.ok("GET", "/api/v1/meters/0/load")["I"] == 5
    # a route that takes no body takes no field: nothing is done
    a.ok("POST", "/api/v1/faults", {"spec": "busy,slave=1"}, want=201)
    a.ok("POST", "/api/v1/faults", {"spec": "busy,slave=2"}, want=201)
    r = a.bad("DELETE", "/api/v1/faults", {"id": 1}, field="id")
    assert "takes no body" in r["error"], r
    assert len(a.ok("GET", "/api/v1/faults")["faults"]) == 2
    a.bad("POST", "/api/v1/clock/pause", {"x": 1}, field="x")
    a.bad("POST", "/api/v1/clock/resume", {"x": 1}, field="x")
    a.bad("GET", "/api/v1/meters", {"x": 1}, field="x")
    assert a.ok("GET", "/api/v1/clock")["paused"] is True
    a.ok("POST", "/api/v1/clock/pause", {})      # an empty object is none
    a.ok("DELETE", "/api/v1/faults")
    assert a.ok("GET", "/api/v1/faults")["faults"] == []


def test_browser_pages_cannot_drive_the_api():
    """CSRF and DNS rebinding: a Host that is not loopback gets 421; a
    change with a form or text body, or from a foreign Origin, gets 403
    and changes nothing; the API's own origin and plain clients work."""
    h = H.harness()
    a = start(h)

    def send(method, path, body, headers):
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, json.loads(r.read().decode() or "null")
        finally:
            c.close()

    topup = "/api/v1/meters/0/credit/topup"
    body = b'{"wh": 1000}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonx"):
        code, res = send("POST", topup, body, {"Content-Type": ctype})
        assert code == 403 and res["field"] == "Content-Type", (ctype, res)
    code, res = send("POST", topup, body, {})
    assert code == 403 and res["field"] == "Content-Type", res
    code, res = send("POST", topup, body, {
        "Content-Type": "application/json",
        "Origin": "http://evil.example"})
    assert code == 403 and res["field"] == "Origin", res
    code, res = send("POST", "/api/v1/clock/pause", None,
                     {"Origin": "null"})
    assert code == 403 and res["field"] == "Origin", res
    for host in ("evil.example", "evil.example:%d" % a.port,
                 "127.0.0.1.evil.example"):
        code, res = send("GET", "/api/v1/meters", None, {"Host": host})
        assert code == 421 and res["field"] == "Host", (host, res)
    assert a.ok("GET", "/api/v1/meters/0/credit")["credit_wh"] == 0
    # the API's own pages, loopback names, and clients without an Origin
    own = "127.0.0.1:%d" % a.port
    code, res = send("POST", topup, body, {
        "Content-Type": "application/json; charset=utf-8",
        "Origin": "http://" + own, "Host": own})
    assert code == 200 and res["credit_wh"] == 1000, res
    for host in ("localhost:%d" % a.port, "localhost", "[::1]:%d" % a.port):
        code, _ = send("GET", "/api/v1/clock", None, {"Host": host})
        assert code == 200, host
    assert a.ok("POST", "/api/v1/clock/pause")["paused"] is True


def test_token_and_bind():
    h = H.harness()
    # beyond loopback without a token: refused before anything starts
    r = S.run(h, "--no-state", "--tcp", "off", "--http", "0.0.0.0:0",
              "--until", "1")
    assert r.returncode == 2 and "--http-token" in r.stderr, r.stderr
    a = start(h, token="s3cret")
    code, res = a.status("GET", "/api/v1/meters", token=False)
    assert code == 401 and res["field"] == "Authorization", (code, res)
    assert a.status("GET", "/metrics", token=False)[0] == 401
    assert a.status("GET", "/healthz", token=False)[0] == 200
    assert a.status("GET", "/readyz", token=False)[0] == 200
    assert a.ok("GET", "/api/v1/meters")["meters"][0]["index"] == 0
    a.token = "s3creT"
    assert a.status("GET", "/api/v1/meters")[0] == 401
    # the environment's token
    port = H.free_port()
    p = h.start([S.exe(), "--headless", "--no-state", "--tcp", "off",
                 "--http", "0.0.0.0:%d" % port, "--speed", "0"],
                env=dict(os.environ, KPM31C_HTTP_TOKEN="envtok"), stdin=False)
    p.wait_stderr("HTTP control API on http://0.0.0.0:%d \\(bearer" % port)
    b = Api.__new__(Api)
    b.port, b.token = port, "envtok"
    assert b.ok("GET", "/api/v1/clock")["paused"]
    # a token no client can send in a header is refused, and not shown
    for tok in ("a\nb", "a b", "caf\u00e9"):
        r = S.run(h, "--no-state", "--tcp", "off", "--http", "0.0.0.0:0",
                  "--http-token", tok, "--until", "1")
        assert r.returncode == 2 and "is not a token" in r.stderr, r.stderr
        assert tok not in r.stderr, r.stderr
    # an IPv6 address is named as given; a busy port says why
    r = S.run(h, "--no-state", "--tcp", "off", "--http", "[::]:0",
              "--until", "1")
    assert r.returncode == 2 and "--http [::]:0 " in r.stderr, r.stderr
    r = S.run(h, "--no-state", "--tcp", "off", "--http",
              "127.0.0.1:%d" % a.port, "--until", "1")
    assert r.returncode != 0 and "in use" in r.stderr, r.stderr


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_text():
    h = H.harness()
    a = start(h, "--meters", "2")
    a.ok("POST", "/api/v1/clock/advance", {"by": "1h"})
    with H.tcp_connect(a.sim.port) as s:
        H.tcp_request(s, H.pdu_read(0x30, 2))
        H.tcp_request(s, H.pdu_read(0x7000, 2))
    m = parse_metrics(a.ok("GET", "/metrics"))
    assert m["kpm31c_virtual_time_seconds"] == 1767229201, m
    assert m['kpm31c_modbus_requests_total{transport="tcp"}'] >= 2, m
    assert m['kpm31c_modbus_exceptions_total{transport="tcp"}'] >= 1, m
    key = 'kpm31c_meter_import_energy_wh_total{meter="1",serial="31000002",' \
          'slave="2"}'
    e = a.ok("GET", "/api/v1/meters/1/energies")
    assert abs(m[key] - e["import_kwh"] * 1000) < 0.01, (m[key], e)
    assert m['kpm31c_meter_pulses_total{meter="0",serial="31000001",'
             'slave="1"}'] == e["pulses"]
    assert m["kpm31c_checkpoint_age_seconds"] >= 0


def test_prometheus_scrapes_metrics():
    prom = shutil.which("prometheus")
    assert prom, "prometheus is not installed (scripts/setup)"
    h = H.harness()
    a = start(h, token="scrape-me")
    a.ok("POST", "/api/v1/clock/advance", {"by": "2h"})
    want = a.ok("GET", "/api/v1/meters/0/energies")
    port = H.free_port()
    cfg = h.path("prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: kpm31c\n"
                "    authorization:\n      credentials: scrape-me\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % a.port)
    h.start([prom, "--config.file", cfg, "--storage.tsdb.path",
             h.path("tsdb"), "--web.listen-address", "127.0.0.1:%d" % port],
            name="prometheus", stdin=False)

    def query(q):
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (
            port, urllib.request.quote(q))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                res = json.load(r)["data"]["result"]
        except (OSError, ValueError, KeyError):
            return None
        return res or None

    assert H.wait_until(lambda: query("kpm31c_meter_pulses_total"),
                        timeout=60), "prometheus never scraped /metrics"
    up = query('up{job="kpm31c"}')
    assert up[0]["value"][1] == "1", up
    pulses = query("kpm31c_meter_pulses_total")[0]
    assert pulses["metric"]["serial"] == "31000001", pulses
    assert int(pulses["value"][1]) == want["pulses"], (pulses, want)
    wh = float(query("kpm31c_meter_import_energy_wh_total")[0]["value"][1])
    assert abs(wh - want["import_kwh"] * 1000) < 0.01, (wh, want)
    vt = float(query("kpm31c_virtual_time_seconds")[0]["value"][1])
    assert vt == 1767232801, vt


OPENAPI_CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "..", "openapi")


def test_openapi_description_is_valid():
    """docs/http-openapi.json against the OpenAPI schema of its version,
    every $ref resolved: @seriousme/openapi-schema-validator, pinned by
    tests/openapi/package-lock.json and installed there by scripts/setup
    (npm ci)."""
    node = shutil.which("node")
    if not node:
        raise H.Skip("node is not installed: the OpenAPI description is "
                     "not validated (scripts/setup installs the validator "
                     "where node and npm are)")
    mods = os.path.join(OPENAPI_CHECK, "node_modules",
                        "@seriousme", "openapi-schema-validator")
    assert os.path.isdir(mods), \
        "the OpenAPI validator is not installed: run scripts/setup"
    doc = os.path.join(DOCS, "http-openapi.json")
    r = subprocess.run([node, os.path.join(OPENAPI_CHECK, "validate.mjs"),
                        doc], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "(OpenAPI 3.0)" in r.stdout, r.stdout
    # and it finds what is wrong: an unknown type and a dangling $ref
    with open(doc) as f:
        bad = json.load(f)
    bad["paths"]["/healthz"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"] = {"$ref": "#/components/schemas/No"}
    h = H.harness()
    path = h.path("bad-openapi.json")
    with open(path, "w") as f:
        json.dump(bad, f)
    r = subprocess.run([node, os.path.join(OPENAPI_CHECK, "validate.mjs"),
                        path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "No" in r.stderr, r.stderr + r.stdout


def openapi_validator(doc, name):
    """A jsonschema validator of components.schemas[name] (OpenAPI 3.0's
    "nullable" as JSON Schema's null type)."""
    import jsonschema

    def conv(x):
        if isinstance(x, list):
            return [conv(v) for v in x]
        if not isinstance(x, dict):
            return x
        y = {k: conv(v) for k, v in x.items() if k != "nullable"}
        if x.get("nullable"):
            if "type" in y:
                y["type"] = [y["type"], "null"]
            else:
                y = {"anyOf": [y, {"type": "null"}]}
        return y
    root = conv({"components": doc["components"]})
    root["$ref"] = "#/components/schemas/" + name
    return jsonschema.Draft7Validator(root)


def test_openapi_bodies_are_what_the_binary_answers():
    """The main answers validate against the description's schemas (no
    field missing, none unknown), and the statuses every path may give
    (405 with Allow, 413, 431, HEAD) are as described."""
    with open(os.path.join(DOCS, "http-openapi.json")) as f:
        doc = json.load(f)
    h = H.harness()
    a = start(h, "--meters", "2")

    def check(name, res):
        errors = [e.message for e in
                  openapi_validator(doc, name).iter_errors(res)]
        assert not errors, (name, errors, res)

    for path, name in (("/api/v1/meters", "Meters"),
                       ("/api/v1/meters/1", "Meter"),
                       ("/api/v1/meters/0/measurements", "Measurements"),
                       ("/api/v1/meters/0/energies", "Energies"),
                       ("/api/v1/meters/0/settings", "Settings"),
                       ("/api/v1/meters/0/relay", "Relay"),
                       ("/api/v1/meters/0/credit", "Credit"),
                       ("/api/v1/meters/0/load", "Load"),
                       ("/api/v1/clock", "Clock")):
        check(name, a.ok("GET", path))
    check("Settings", a.ok("PATCH", "/api/v1/meters/0/settings",
                           {"word_order": "CDAB"}))
    check("Credit", a.ok("POST", "/api/v1/meters/0/credit/topup",
                         {"wh": 5}))
    check("Credit", a.ok("PUT", "/api/v1/meters/0/credit", {"wh": 5}))
    check("Load", a.ok("PATCH", "/api/v1/meters/0/load", {"I": 6}))
    check("Clock", a.ok("POST", "/api/v1/clock/advance", {"by": 10}))
    check("Error", a.bad("GET", "/api/v1/meters/9", want=404))
    # a method a path does not take: 405 in JSON, with Allow
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    c.request("DELETE", "/api/v1/meters/0/load")
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 405 and r.getheader("Allow") == "GET, PUT, PATCH", \
        (r.status, r.getheaders())
    check("Error", body)
    c.request("HEAD", "/healthz")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"", r.status
    c.close()
    check("Error", a.bad("PUT", "/api/v1/meters/0/load",
                         raw=b"{" + b" " * 70000 + b"}", want=413))
    # headers too big: libmicrohttpd's own answer (HTML), as described
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
              b"x" * 40000 + b"\r\n\r\n")
    status = s.makefile("rb").readline().decode()
    s.close()
    assert " 431 " in status, status
    hh = doc["components"]["responses"]["HeadersTooLarge"]
    assert "text/html" in hh["content"], hh


def test_openapi_matches_routes():
    with open(os.path.join(DOCS, "http-openapi.json")) as f:
        doc = json.load(f)
    assert doc["openapi"].startswith("3.0"), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            assert op.get("responses"), (path, method)
            assert op.get("summary"), (path, method)
    h = H.harness()
    a = start(h)
    served = {(r["method"], r["path"])
              for r in a.ok("GET", "/api/v1")["routes"]}
    documented = {(m.upper(), p) for p, ops in doc["paths"].items()
                  for m in ops if m != "parameters"}
    assert served == documented, (sorted(served - documented),
                                  sorted(documented - served))
    # every documented path answers (something other than 404 / 405)
    for method, path in sorted(documented):
        if path == "/api/v1/events":
            continue        # a stream: tested above
        url = path.replace("{meter}", "0").replace("{register}", "48") \
                  .replace("{id}", "1").replace("{asset}", "face.js")
        code, _ = a.status(method, url, {} if method != "GET" else None)
        assert code not in (0, 404, 405) or "/faults/" in url, \
            (method, path, code)


if __name__ == "__main__":
    H.main(globals())
