"""The MQTT uplink against a real mosquitto on a free loopback port:
telemetry (schema, Modbus agreement), Home Assistant discovery, commands
and their results, credentials, TLS, a broker outage and a restart during
one, 4g_M, fleets, billing. Usage: test_mqtt.py KPM31C_SIM DOCS_DIR"""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import jsonschema

import ha_discovery as HA
import harness as H
import mqtt_peer as M
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
DOCS = sys.argv[2] if len(sys.argv) > 2 else "docs"
LOAD = "U=230,I=5,PF=0.95"
SERIAL = "31000001"
BASE = "kpm31c/" + SERIAL

def schema(name):
    with open(os.path.join(DOCS, name)) as f:
        return json.load(f)


SCHEMA = schema("mqtt-state.schema.json")
BILLING = schema("mqtt-billing.schema.json")
RESULT = schema("mqtt-result.schema.json")


def meter(h, broker, *args, **kw):
    """kpm31c-sim with the uplink to broker; waits for "online"."""
    uri = kw.pop("uri", "mqtt://127.0.0.1:%d" % broker.port)
    m = S.Sim(h, "--mqtt", uri, "--mqtt-reconnect-max", "1", *args, **kw)
    return m


def subscribed(h, broker):
    """A subscriber to everything the meters publish, closed with h."""
    sub = M.Sub(broker.port, ["kpm31c/#"])
    h.on_close(sub.close)
    return sub


def frozen_meter(h, broker):
    """The steady load on a frozen clock: telemetry equals Modbus exactly;
    returns once the first telemetry is in."""
    sub = subscribed(h, broker)
    m = meter(h, broker, "--load", LOAD, "--speed", "0",
              "--start", "2026-03-10T10:00:00")
    wait_seq(sub, 1)
    return sub, m


def states(sub, base=BASE):
    return sub.json_on(base + "/state")


def wait_seq(sub, seq, base=BASE, timeout=20.0):
    return sub.wait(lambda _: [t for t in states(sub, base)
                               if t["seq"] >= seq], timeout)


def result_of(sub, cmd, payload, base=BASE):
    """Publish a command; its result (the next one on the result topic)."""
    n = len(sub.on(base + "/result"))
    sub.publish(base + "/cmd/" + cmd, payload)
    sub.wait(lambda _: len(sub.on(base + "/result")) > n)
    r = sub.json_on(base + "/result")[n]
    jsonschema.validate(r, RESULT)
    return r


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


# --------------------------------------------------------------------------


def test_mosquitto_sub_shows_telemetry_within_a_period():
    # the issue's "done when": mosquitto_sub -t 'kpm31c/#' -v
    h = H.harness()
    b = M.Broker(h)
    sub = h.start(["mosquitto_sub", "-p", b.port, "-t", "kpm31c/#", "-v"],
                  name="mosquitto_sub", stdin=False)
    time.sleep(0.3)    # let it subscribe (the state is not retained)
    meter(h, b, "--load", LOAD, "--mqtt-period", "5")
    line = sub.wait_for(r"^kpm31c/31000001/state \{", timeout=30)
    t = json.loads(line.string.split(" ", 1)[1])
    jsonschema.validate(t, SCHEMA)
    assert t["serial"] == SERIAL and t["seq"] >= 1


def test_telemetry_schema_sequence_and_availability():
    h = H.harness()
    b = M.Broker(h)
    sub = subscribed(h, b)
    meter(h, b, "--load", LOAD, "--mqtt-period", "1", "--speed", "5")
    wait_seq(sub, 5)
    ts = states(sub)
    for t in ts:
        jsonschema.validate(t, SCHEMA)
    seqs = [t["seq"] for t in ts]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert sub.on(BASE + "/availability")[0] == (b"online", False)
    last = ts[-1]
    assert abs(last["u"] - 230) < 0.05 and abs(last["p"] - 1092.5) < 1
    assert last["relay"] == "closed" and last["dropped"] == 0
    # a late subscriber sees availability retained
    late = M.Sub(b.port, [BASE + "/availability"])
    h.on_close(late.close)
    late.wait(lambda ms: ms and ms[0][1] == b"online" and ms[0][2])


def modbus_view(m):
    """Telemetry's values as Modbus reads them (float32 exact)."""
    fl = lambda a: m.float(a)
    regs = lambda a, n: m.regs(a, n)
    u32 = lambda a: (lambda r: r[0] << 16 | r[1])(regs(a, 2))
    v = {k: fl(a) for k, a in (("u", 0x30), ("i", 0x32), ("p", 0x34),
                               ("q", 0x36), ("s", 0x38), ("pf", 0x3A),
                               ("f", 0x3C), ("demand", 0x70),
                               ("max_demand", 0x100C), ("credit", 0x1014))}
    e = {}
    for k, a in (("active_total", 0x80), ("active_import", 0x82),
                 ("active_export", 0x84), ("reactive_total", 0x86),
                 ("reactive_import", 0x88), ("reactive_export", 0x8A)):
        e[k] = fl(a)
    for r, name in enumerate(("sharp", "peak", "flat", "valley")):
        e["active_" + name] = fl(0x8C + 2 * r)
        e["reactive_" + name] = fl(0x94 + 2 * r)
        e["reactive_q%d" % (r + 1)] = fl(0x101A + 2 * r)
    v["energy"] = e
    v["credit_wh"] = u32(0x1132)
    v["rate"] = regs(0x1008, 1)[0]
    r = regs(0x1004, 4)
    v["pulses"] = r[0] << 48 | r[1] << 32 | r[2] << 16 | r[3]
    return v


def test_telemetry_equals_modbus_with_a_frozen_clock():
    h = H.harness()
    b = M.Broker(h)
    sub, m = frozen_meter(h, b)
    mb = modbus_view(m)
    for t in (states(sub)[0], result_and_report(sub)):
        for k, v in mb.items():
            if k == "energy":
                for ek, ev in v.items():
                    assert f32(t["energy"][ek]) == ev, (ek, t["energy"][ek], ev)
            elif isinstance(v, float):
                assert f32(t[k]) == v, (k, t[k], v)
            else:
                assert t[k] == v, (k, t[k], v)
        assert t["time"] == "2026-03-10T10:00:01"   # the power-on second


def result_and_report(sub):
    res = result_of(sub, "report", "{}")
    assert res["ok"] is True and res["cmd"] == "report", res
    return wait_seq(sub, 2)[-1]


CONFIGS = 28            # discovery configs per meter
SIM_ID = "kpm31c_sim_" + SERIAL


def discovery_configs(h, b, count):
    """The retained configs under homeassistant/, once count are there:
    {(component, node, object): config}."""
    first = M.Sub(b.port, ["homeassistant/#"])
    h.on_close(first.close)
    first.wait(lambda ms: len({t for t, p, _ in ms if p}) >= count)
    # all of them retained: a subscriber that comes later gets them all
    late = M.Sub(b.port, ["homeassistant/#"])
    h.on_close(late.close)
    msgs = late.wait(lambda ms: ms if len({t for t, p, _ in ms if p})
                     >= count else None)
    out = {}
    for topic, payload, retain in msgs:
        assert retain, topic
        parts = topic.split("/")
        assert parts[0] == "homeassistant" and parts[4] == "config" and \
            len(parts) == 5, topic
        if payload:
            out[tuple(parts[1:4])] = json.loads(payload)
    return out


def mosquitto_pub(b, topic, payload):
    subprocess.run(["mosquitto_pub", "-p", str(b.port), "-q", "1", "-t",
                    topic, "-m", payload], check=True, timeout=10)


def test_home_assistant_discovery():
    h = H.harness()
    b = M.Broker(h)
    sub = subscribed(h, b)
    m = meter(h, b, "--load", LOAD, "--mqtt-period", "10")
    hsub = M.Sub(b.port, ["homeassistant/#"])
    h.on_close(hsub.close)
    node = "kpm31c_" + SERIAL
    configs = discovery_configs(h, b, CONFIGS + 1)
    assert len(configs) == CONFIGS + 1, sorted(configs)
    tele = wait_seq(sub, 1)[-1]
    energy = {"energy_total", "energy_import", "energy_export",
              "energy_sharp", "energy_peak", "energy_flat", "energy_valley"}
    units = {"voltage": ("voltage", "V"), "current": ("current", "A"),
             "power": ("power", "W"), "reactive_power": ("reactive_power",
                                                         "var"),
             "apparent_power": ("apparent_power", "VA"),
             "frequency": ("frequency", "Hz"), "demand": ("apparent_power",
                                                          "VA")}
    for (component, nd, obj), c in configs.items():
        # every supported release accepts it, as it is
        for release in (HA.OLDEST, HA.REACTIVE):
            assert HA.check(component, c, release) == [], (obj, release, c)
        if nd == SIM_ID:            # the simulator process's own device
            assert (component, obj) == ("sensor", "meters")
            assert c["device"]["identifiers"] == [SIM_ID]
            continue
        assert nd == node
        # the release before the oldest supported rejects it
        assert any("serial_number" in e for e in
                   HA.check(component, c, (2024, 1))), obj
        assert c["unique_id"] == node + "_" + obj
        assert c["availability_topic"] == BASE + "/availability"
        assert c["qos"] == 1
        d = c["device"]
        assert d["identifiers"] == [node] and d["manufacturer"] == "Compere"
        assert d["model"] == "KPM31C" and d["serial_number"] == SERIAL
        assert d["sw_version"] == "1.00" and d["name"]
        assert d["via_device"] == SIM_ID
        if component in ("sensor", "binary_sensor"):
            # three telemetry periods (10 s at speed 1)
            assert c["expire_after"] == 30, (obj, c)
        if "state_topic" in c:
            assert c["state_topic"] == BASE + "/state"
            HA.render(c["value_template"], tele)    # reads the telemetry
        if obj in energy:
            assert (c["device_class"], c["state_class"],
                    c["unit_of_measurement"]) == ("energy",
                                                  "total_increasing", "kWh")
        elif obj.startswith("reactive_energy"):
            assert "device_class" not in c
            assert (c["state_class"], c["unit_of_measurement"]) == (
                "total_increasing", "kvarh")
        elif obj in units:
            assert (c["device_class"], c["unit_of_measurement"]) == units[obj]
            assert c["state_class"] == "measurement"
        elif obj == "power_factor":
            assert c["device_class"] == "power_factor"
            assert "unit_of_measurement" not in c
    kinds = {(comp, obj) for comp, _, obj in configs}
    assert {("switch", "relay"), ("sensor", "credit"), ("button", "topup"),
            ("binary_sensor", "low_credit")} <= kinds, kinds

    # the entities' commands, sent as Home Assistant would, act
    relay = configs[("switch", node, "relay")]
    topup = configs[("button", node, "topup")]
    low = configs[("binary_sensor", node, "low_credit")]
    mosquitto_pub(b, relay["command_topic"], relay["payload_off"])
    sub.wait(lambda _: m.regs(0x1131, 1) == [0])
    t = sub.wait(lambda _: [x for x in states(sub) if x["relay"] == "open"])
    assert HA.render(relay["value_template"], t[-1]) == relay["state_off"]
    mosquitto_pub(b, relay["command_topic"], relay["payload_on"])
    sub.wait(lambda _: m.regs(0x1131, 1) == [1])
    t = sub.wait(lambda _: [x for x in states(sub)
                            if x["relay"] == "closed" and x["seq"] > 2])
    assert HA.render(relay["value_template"], t[-1]) == relay["state_on"]
    before = states(sub)[-1]["credit_wh"]
    mosquitto_pub(b, topup["command_topic"], topup["payload_press"])
    t = sub.wait(lambda _: [x for x in states(sub)
                            if x["credit_wh"] == before + 10000])
    assert m.regs(0x1132, 2) == [0, before + 10000]
    assert HA.render(low["value_template"], t[-1]) == "OFF"
    # low credit: prepaid with an alarm above the credit
    assert result_of(sub, "credit", '{"wh": 100}')["ok"]
    assert result_of(sub, "config", '{"prepaid": true, "alarm_wh": 500}')["ok"]
    t = sub.wait(lambda _: [x for x in states(sub) if x["low_credit"]])
    assert HA.render(low["value_template"], t[-1]) == "ON"
    # Home Assistant restarts: "online" on homeassistant/status -> again
    n = len(hsub.msgs)
    hsub.publish("homeassistant/status", "online")
    hsub.wait(lambda ms: len(ms) >= n + CONFIGS + 1)


def test_reactive_energy_class_for_recent_home_assistant():
    h = H.harness()
    b = M.Broker(h)
    meter(h, b, "--load", LOAD, "--mqtt-reactive-class", "reactive_energy")
    configs = discovery_configs(h, b, CONFIGS + 1)
    reactive = {k: c for k, c in configs.items()
                if k[2].startswith("reactive_energy")}
    assert len(reactive) == 7
    for (component, _, obj), c in reactive.items():
        assert c["device_class"] == "reactive_energy"
        assert c["unit_of_measurement"] == "kvarh"
        assert HA.check(component, c, HA.REACTIVE) == [], c
        assert HA.check(component, c, (2025, 5)) != [], c
    r = subprocess.run([S.exe(), "--mqtt-reactive-class", "varh"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "none or reactive_energy" in r.stderr


def test_meters_gone_at_restart_lose_their_configs():
    h = H.harness()
    b = M.Broker(h)
    args = ["--no-state", "--tcp", "off", "--mqtt",
            "mqtt://127.0.0.1:%d" % b.port, "--speed", "max", "--until", "5"]
    r = S.run(h, *args, "--meters", "3")
    assert r.returncode == 0, r.stderr
    assert len(discovery_configs(h, b, 3 * CONFIGS + 1)) == 3 * CONFIGS + 1
    r = S.run(h, *args, "--meters", "1")
    assert r.returncode == 0, r.stderr
    assert "2 meter(s) of the last run are gone" in r.stderr, r.stderr
    # what the broker keeps now: meter 1's configs and the simulator's
    # (retained ones come before a message published after subscribing)
    late = M.Sub(b.port, ["homeassistant/#", "probe"])
    h.on_close(late.close)
    late.publish("probe", "x")
    late.wait(lambda _: late.on("probe"))
    nodes = {t.split("/")[2] for t, p, _ in late.msgs if t != "probe"}
    assert nodes == {"kpm31c_" + SERIAL, SIM_ID}, nodes
    late.msgs = [x for x in late.msgs if x[0] != "probe"]
    assert len(late.msgs) == CONFIGS + 1


def test_commands_and_their_results():
    h = H.harness()
    b = M.Broker(h)
    sub, m = frozen_meter(h, b)

    r = result_of(sub, "relay", '{"state": "open", "id": "r1"}')
    assert r["ok"] and r["id"] == "r1" and r["relay"] == "open", r
    assert m.regs(0x1131, 1) == [0]
    assert sub.wait(lambda _: states(sub)[-1]["relay"] == "open")
    r = result_of(sub, "relay", '{"state": "closed"}')
    assert r["ok"] and r["relay"] == "closed" and m.regs(0x1131, 1) == [1]

    r = result_of(sub, "topup", '{"wh": 5000, "id": 7}')
    assert r["ok"] and r["credit_wh"] == 5000 and r["id"] == 7, r
    r = result_of(sub, "topup", '{"kwh": 1.5}')
    assert r["ok"] and r["credit_wh"] == 6500, r
    assert m.regs(0x1132, 2) == [0, 6500]
    r = result_of(sub, "credit", '{"wh": 0}')
    assert r["ok"] and r["credit_wh"] == 0
    r = result_of(sub, "credit", '{"kwh": 0.01}')
    assert r["ok"] and r["credit_wh"] == 10

    r = result_of(sub, "time", '{"time": "2026-04-01T12:30:00"}')
    assert r["ok"] and r["time"] == "2026-04-01T12:30:00", r
    assert m.regs(0x1110, 6) == [2026, 4, 1, 12, 30, 0]

    tariff = {"zones": [{"start": "01-01", "periods": [
        {"start": "07:00", "rate": "peak"}, {"start": "22:00", "rate": 4}]}]}
    r = result_of(sub, "tariff", json.dumps(tariff))
    assert r["ok"], r
    t = m.regs(0x1200, 10)
    assert t[0] == 1 and t[5:10] == [2, 700, 2, 2200, 4], t

    r = result_of(sub, "config", '{"demand_period": 30, "demand_slide": 5}')
    assert r["ok"] and r["config"]["demand_period"] == 30, r
    assert m.regs(0x1120, 2) == [30, 5]

    r = result_of(sub, "period", '{"seconds": 5}')
    assert r["ok"] and r["seconds"] == 5

    # bad ones: a reason, and nothing changes
    before = (m.regs(0x1200, 73), m.regs(0x1110, 6), m.regs(0x1120, 2),
              m.regs(0x1130, 10))
    bad = [
        ("relay", "{not json", "bad JSON"),
        ("relay", "[1, 2]", "JSON object"),
        ("relay", '{"state": "ajar"}', "'state' must be"),
        ("relay", '{"state": "open", "force": true}', "unknown key 'force'"),
        ("relay", "{}", "missing 'state'"),
        ("topup", '{"wh": -5}', "'wh' must be an integer"),
        ("topup", '{"wh": 1, "kwh": 1}', "either 'wh' or 'kwh'"),
        ("topup", '{"kwh": "lots"}', "'kwh' must be a number"),
        ("topup", '{"wh": 4294967295}', "would exceed"),
        ("time", '{"time": "2026-02-30T00:00:00"}', "not a date-time"),
        ("time", '{"time": 5}', "'time' must be a string"),
        ("tariff", '{"zones": []}', "1..4 zones"),
        ("tariff", json.dumps({"zones": [{"start": "01-01", "periods": [
            {"start": "10:00", "rate": 1}, {"start": "09:00", "rate": 2}]}]}),
         "strictly ascending"),
        ("tariff", json.dumps({"zones": [{"start": "13-01", "periods": [
            {"start": "10:00", "rate": 1}]}]}), "'start' must be a date"),
        ("tariff", json.dumps({"zones": [{"start": "01-01", "periods": [
            {"start": "10:00", "rate": "cheap"}]}]}), "'rate' must be"),
        ("config", '{"demand_period": 15, "demand_slide": 4}', "must divide"),
        ("config", '{"word_order": "XYZW"}', "'word_order' must be"),
        ("period", '{"seconds": 0}', "'seconds' must be an integer 1..86400"),
        ("period", '{"id": {}}', "'id' must be"),
        ("launch", "{}", "unknown command 'launch'"),
    ]
    for cmd, payload, why in bad:
        r = result_of(sub, cmd, payload)
        assert r["ok"] is False and r["cmd"] == cmd, (cmd, payload, r)
        assert why in r["error"], (cmd, payload, r)
    assert before == (m.regs(0x1200, 73), m.regs(0x1110, 6),
                      m.regs(0x1120, 2), m.regs(0x1130, 10))
    # a close refused for lack of prepaid credit
    assert result_of(sub, "credit", '{"wh": 0}')["ok"]
    r = result_of(sub, "config", '{"prepaid": true}')
    assert r["ok"], r
    assert sub.wait(lambda _: states(sub)[-1]["relay"] == "open")
    r = result_of(sub, "relay", '{"state": "closed"}')
    assert not r["ok"] and "credit is used up" in r["error"], r
    r = result_of(sub, "topup", '{"kwh": 2}')
    assert r["ok"]
    assert sub.wait(lambda _: states(sub)[-1]["relay"] == "closed")
    for t in states(sub):
        jsonschema.validate(t, SCHEMA)


def test_wrong_credentials_are_a_clear_error_exit_3():
    h = H.harness()
    pw = h.path("passwd")
    subprocess.run(["mosquitto_passwd", "-b", "-c", pw, "meter", "s3cret"],
                   check=True, capture_output=True)
    os.chmod(pw, 0o600)
    b = M.Broker(h, conf="password_file %s\nallow_anonymous false" % pw)
    env = dict(os.environ, KPM31C_MQTT_USER="meter",
               KPM31C_MQTT_PASSWORD="wrong")
    r = subprocess.run([S.exe(), "--headless", "--no-state", "--tcp", "off",
                        "--mqtt", "mqtt://127.0.0.1:%d" % b.port],
                       capture_output=True, text=True, timeout=60, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "refused" in r.stderr and "user 'meter'" in r.stderr, r.stderr
    assert ("bad user name or password" in r.stderr or
            "not authorized" in r.stderr), r.stderr
    # the right password, from the environment, connects
    sub = M.Sub(b.port, ["kpm31c/#"], user="meter", password="s3cret")
    h.on_close(sub.close)
    env["KPM31C_MQTT_PASSWORD"] = "s3cret"
    proc = h.start([S.exe(), "--headless", "--no-state", "--tcp", "off",
                    "--mqtt", "mqtt://127.0.0.1:%d" % b.port], env=env,
                   stdin=False)
    wait_seq(sub, 1)
    assert "s3cret" not in " ".join(proc.argv)


def tls_broker(h):
    """TLS material and a broker that requires client certificates."""
    tls = M.make_tls(h)
    return tls, M.Broker(h, conf="\n".join([
        "cafile " + tls["ca"], "certfile " + tls["server"],
        "keyfile " + tls["server_key"], "require_certificate true"]))


def test_tls_with_a_ca_and_client_certificates():
    h = H.harness()
    tls, b = tls_broker(h)
    sub = M.Sub(b.port, ["kpm31c/#"], tls={
        "ca": tls["ca"], "cert": tls["client"], "key": tls["client_key"]})
    h.on_close(sub.close)
    meter(h, b, "--load", LOAD, "--mqtt-ca", tls["ca"], "--mqtt-cert",
          tls["client"], "--mqtt-key", tls["client_key"],
          uri="mqtts://127.0.0.1:%d" % b.port)
    t = wait_seq(sub, 1)[0]
    jsonschema.validate(t, SCHEMA)
    # TLS options without an mqtts:// URI are a usage error
    r = S.run(h, "--no-state", "--tcp", "off", "--mqtt",
              "mqtt://127.0.0.1:%d" % b.port, "--mqtt-ca", tls["ca"])
    assert r.returncode == 2 and "mqtts://" in r.stderr, r.stderr


def test_tls_failures_say_why_at_default_verbosity():
    h = H.harness()
    tls, b = tls_broker(h)
    uri = "mqtts://127.0.0.1:%d" % b.port
    # a server certificate from a CA not trusted: OpenSSL's own words
    m = meter(h, b, "--no-state", "--mqtt-ca", tls["client"], uri=uri)
    m.proc.wait_stderr(r"warning: .*certificate verify failed")
    # no client certificate for a broker that requires one
    m = meter(h, b, "--no-state", "--mqtt-ca", tls["ca"], uri=uri)
    m.proc.wait_stderr(r"warning: .*check --mqtt-cert")


def check_contiguous(ts, period):
    seqs = [t["seq"] for t in ts]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    times = [time.mktime(time.strptime(t["time"], "%Y-%m-%dT%H:%M:%S"))
             for t in ts]
    # after the power-on reading, one every period, in order
    steps = {round(b - a) for a, b in zip(times[1:], times[2:])}
    assert steps <= {period}, steps
    assert all(t["dropped"] == 0 for t in ts)


def test_broker_outage_loses_nothing_and_keeps_order():
    # 20 virtual seconds of outage (2 s real at --speed 10), period 1 s
    h = H.harness()
    b = M.Broker(h, persistence=True)
    sub = M.Sub(b.port, ["kpm31c/+/state"], client_id="it-outage",
                clean=False)
    h.on_close(sub.close)
    m = meter(h, b, "--load", LOAD, "--mqtt-period", "1", "--speed", "10")
    wait_seq(sub, 5)
    b.stop()
    m.proc.wait_stderr(r"connection lost")
    time.sleep(2.5)
    b.start()       # the subscriber's session (QoS 1) is kept meanwhile
    last = states(sub)[-1]["seq"]
    wait_seq(sub, last + 40, timeout=60)
    ts = sorted(states(sub), key=lambda t: t["seq"])
    # QoS 1 may deliver a message twice; nothing may be missing
    uniq = list({t["seq"]: t for t in ts}.values())
    check_contiguous(uniq[:last + 40], 1)
    arrival = [t["seq"] for t in states(sub)]
    firsts = [s for k, s in enumerate(arrival) if s not in arrival[:k]]
    assert firsts == sorted(firsts), "out of order: %s" % arrival


def test_restart_during_an_outage_loses_nothing():
    h = H.harness()
    b = M.Broker(h, persistence=True)
    sub = M.Sub(b.port, ["kpm31c/+/state"], client_id="it-restart",
                clean=False)
    h.on_close(sub.close)
    state = h.path("meter.state")
    m = meter(h, b, "--load", LOAD, "--mqtt-period", "1", "--speed", "10",
              "--start", "2030-05-01T00:00:00", state=state)
    wait_seq(sub, 3)
    b.stop()
    m.proc.wait_stderr(r"connection lost")
    time.sleep(1.5)
    assert m.stop() == 0            # saves the queue with the state
    b.start()
    m2 = meter(h, b, "--load", LOAD, "--mqtt-period", "1", "--speed", "10",
               state=state)
    assert m2.proc.running()
    wait_seq(sub, 40, timeout=60)
    uniq = sorted({t["seq"]: t for t in states(sub)}.values(),
                  key=lambda t: t["seq"])
    seqs = [t["seq"] for t in uniq]
    assert seqs[:40] == list(range(1, 41)), seqs
    # original timestamps: the virtual clock never ran backwards
    times = [t["time"] for t in uniq[:40]]
    assert times == sorted(times), times


def test_4g_m_debug_turns_the_uplink_off_and_mqtt_on():
    h = H.harness()
    b = M.Broker(h)
    sub = subscribed(h, b)
    m = meter(h, b, "--load", LOAD, "--mqtt-period", "1", "--speed", "5")
    wait_seq(sub, 2)
    assert m.regs(0x1104, 1) == [1]     # --mqtt set 4g_M = Mqtt
    with H.tcp_connect(m.port) as s:
        assert H.exception_of(H.tcp_request(s, H.pdu_write1(0x1104, 0))) \
            is None
    sub.wait(lambda _: sub.on(BASE + "/availability")[-1][0] == b"offline")
    n = states(sub)[-1]["seq"]
    time.sleep(1.0)         # 5 virtual periods with the uplink off
    assert states(sub)[-1]["seq"] == n
    with H.tcp_connect(m.port) as s:
        assert H.exception_of(H.tcp_request(s, H.pdu_write1(0x1104, 1))) \
            is None
    sub.wait(lambda _: sub.on(BASE + "/availability")[-1][0] == b"online")
    wait_seq(sub, n + 2)
    # and off again over MQTT itself
    r = result_of(sub, "config", '{"uplink": "debug"}')
    assert r["ok"] and r["config"]["uplink"] == "debug", r
    sub.wait(lambda _: sub.on(BASE + "/availability")[-1][0] == b"offline")
    assert m.regs(0x1104, 1) == [0]


def test_fleet_each_meter_its_own_connection_and_will():
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, ["kpm31c/+/availability", "kpm31c/+/state"])
    h.on_close(sub.close)
    m = meter(h, b, "--load", LOAD, "--meters", "3")
    serials = ["31000001", "31000002", "31000003"]
    for sn in serials:
        sub.wait(lambda _, sn=sn: sub.on("kpm31c/%s/availability" % sn))
        wait_seq(sub, 1, base="kpm31c/" + sn)
    os.killpg(m.proc.p.pid, signal.SIGKILL)     # no clean goodbye: wills
    for sn in serials:
        sub.wait(lambda _, sn=sn: sub.on("kpm31c/%s/availability" % sn)[-1]
                 == (b"offline", False))


def test_a_shard_connects_its_own_meters_only():
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, ["kpm31c/+/availability"])
    h.on_close(sub.close)
    meter(h, b, "--load", LOAD, "--meters", "9", "--shard", "1/3")
    mine = ["31000004", "31000005", "31000006"]
    for sn in mine:
        sub.wait(lambda _, sn=sn: sub.on("kpm31c/%s/availability" % sn))
    seen = {t.split("/")[1] for t, _, _ in sub.msgs}
    assert seen == set(mine), seen


def test_billing_message_at_monthly_settlement():
    h = H.harness()
    b = M.Broker(h)
    dump = h.path("dump.json")
    r = S.run(h, "--no-state", "--tcp", "off", "--mqtt",
              "mqtt://127.0.0.1:%d" % b.port, "--mqtt-period", "3600",
              "--load", "U=230,I=10,PF=1", "--start", "2026-01-31T20:00:00",
              "--until", "2026-02-01T01:00:00", "--speed", "max",
              "--dump", dump)
    assert r.returncode == 0, r.stderr
    sub = M.Sub(b.port, [BASE + "/billing"])     # retained
    h.on_close(sub.close)
    (payload, retain), = sub.wait(lambda _: sub.on(BASE + "/billing"))
    assert retain
    bill = json.loads(payload)
    jsonschema.validate(bill, BILLING)
    regs = S.dump(dump)["registers"]
    assert bill["month"] == "2026-01" and bill["serial"] == SERIAL, bill
    assert bill["settled"] == "2026-02-01T00:00:00"
    assert f32(bill["active"]["total"]) == f32(regs["009C"]), (bill, regs["009C"])
    for k, name in enumerate(("sharp", "peak", "flat", "valley")):
        assert f32(bill["active"][name]) == f32(regs["%04X" % (0xD2 + 0x34 * k)])
    # 20:00..23:00 flat, 23:00..24:00 valley at 2.3 kW
    assert abs(bill["active"]["total"] - 4 * 2.3) < 0.01, bill
    assert abs(bill["active"]["valley"] - 2.3) < 0.01, bill
    assert bill["max_demand"] > 2000 and bill["max_demand_time"].startswith(
        "2026-01-31"), bill


def test_retained_command_runs_once_at_most():
    # a retained top-up would run again at every (re)connection: MQTT
    # 3.1.1 flags only the copies the broker keeps, so the live one runs
    # and every later copy is refused with the reason
    h = H.harness()
    b = M.Broker(h, persistence=True)
    sub = M.Sub(b.port, [BASE + "/result"], client_id="it-retained",
                clean=False)
    h.on_close(sub.close)
    m = meter(h, b, "--load", LOAD, "--speed", "0")
    m.proc.wait_stderr(r"connected to")

    def listening():
        # its subscription is on its way: a report (harmless to repeat)
        # is answered once the meter listens, after what the broker
        # handed over at the subscription (a retained copy)
        def answered():
            n = len(sub.on(BASE + "/result"))
            try:
                # after a broker restart this client reconnects too
                sub.publish(BASE + "/cmd/report", "{}")
                sub.wait(lambda _: [r for r in sub.json_on(
                    BASE + "/result")[n:] if r["cmd"] == "report"],
                    timeout=1)
            except (AssertionError, RuntimeError):
                return False
            return True
        assert H.wait_until(answered, timeout=30, step=0.2), \
            "the meter never answered a report"
    listening()
    n = len(sub.json_on(BASE + "/result"))
    sub.publish(BASE + "/cmd/topup", '{"wh": 100, "id": "kept"}',
                retain=True)
    r = sub.wait(lambda _: [r for r in sub.json_on(BASE + "/result")[n:]
                            if r.get("id") == "kept"])[0]
    assert r["ok"] and r["credit_wh"] == 100, r
    for k in (1, 2):                # two reconnections
        n = len(sub.json_on(BASE + "/result"))
        b.stop()
        m.proc.wait_stderr(r"connection lost")
        b.start()
        # QoS 1 may deliver an earlier result again after the broker's
        # restart, so a refusal since n does not prove the meter is back:
        # a report answered does, and its subscription's retained copy
        # was refused before that answer
        listening()
        rs = sub.wait(lambda _: [r for r in sub.json_on(BASE + "/result")[n:]
                                 if r["ok"] is False], timeout=30)
        jsonschema.validate(rs[0], RESULT)
        assert rs[0]["ok"] is False and rs[0]["id"] == "kept", rs
        assert "retain" in rs[0]["error"], rs
        assert m.regs(0x1132, 2) == [0, 100]
    sub.publish(BASE + "/cmd/topup", "", retain=True)    # cleared
    r = result_of(sub, "topup", '{"wh": 100}')
    assert r["ok"] and r["credit_wh"] == 200, r


def distinct_by_seq(msgs):
    """{seq: payload}; asserts that no seq stands for two contents."""
    seen = {}
    for t in msgs:
        key = json.dumps(t, sort_keys=True)
        assert seen.setdefault(t["seq"], key) == key, (
            "seq %d used for two messages:\n%s\n%s" % (t["seq"],
                                                         seen[t["seq"]], key))
    return seen


def test_kill_9_while_connected_never_reuses_a_sequence_number():
    h = H.harness()
    b = M.Broker(h)
    sub = subscribed(h, b)
    state = h.path("meter.state")
    args = ("--load", LOAD, "--mqtt-period", "1", "--speed", "20",
            "--checkpoint", "1")
    m = meter(h, b, "--start", "2030-05-01T00:00:00", *args, state=state)
    wait_seq(sub, 60)
    os.killpg(m.proc.p.pid, signal.SIGKILL)
    m.proc.p.wait()
    before = max(t["seq"] for t in states(sub))
    n = len(states(sub))
    meter(h, b, *args, state=state)     # resumes at the saved clock
    sub.wait(lambda _: len(states(sub)) >= n + 20, timeout=60)
    seen = distinct_by_seq(states(sub))
    after = [t["seq"] for t in states(sub)[n:]]
    # the restart resumes past every number the first run could have used
    assert min(after) > before, (before, after[:5])
    for t in states(sub):
        jsonschema.validate(t, SCHEMA)
    assert len(seen) >= n


def test_burst_of_1000_commands_and_discovery_during_a_partition():
    # results and configs go through the outbox: while the meter cannot
    # publish (a scenario cuts its link: commands still arrive) they wait,
    # then all arrive; each command runs once
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, [BASE + "/result", "homeassistant/#"])
    h.on_close(sub.close)
    with open(h.path("cut.lua"), "w") as f:
        f.write('setup{ speed = 1 }\nmeter(1):load{ U = 230, I = 5, PF = 1 }\n'
                'advance("2s")\nfault.broker("20s")\nadvance("40s")\n')
    proc = h.start([S.exe(), "--headless", "--no-state", "--tcp", "off",
                    "--mqtt", "mqtt://127.0.0.1:%d" % b.port,
                    "--mqtt-queue", "50", h.path("cut.lua")], stdin=False)
    proc.wait_stderr(r"link to the broker cut")
    n_cfg = len(sub.msgs)
    for k in range(1000):
        sub.c.publish(BASE + "/cmd/topup", '{"wh": 1, "id": %d}' % k, qos=1)
        if k % 100 == 50:
            sub.c.publish("homeassistant/status", "online", qos=1)
    queued = proc.wait_stderr(r"link to the broker restored \((\d+) queued",
                              timeout=40)
    assert int(queued.group(1)) >= 1000 + CONFIGS, queued.group(0)
    sub.wait(lambda _: len(sub.on(BASE + "/result")) >= 1000, timeout=60)
    rs = sub.json_on(BASE + "/result")
    for r in rs:
        jsonschema.validate(r, RESULT)
        assert r["ok"], r
    # all of them, in order, each command once (the credit adds up)
    assert [r["id"] for r in rs] == list(range(1000))
    assert [r["credit_wh"] for r in rs] == list(range(1, 1001))
    cfg = {t for t, _, _ in sub.msgs[n_cfg:] if t.endswith("/config")}
    assert len(cfg) == CONFIGS + 1, sorted(cfg)
    assert "dropping the oldest result" not in proc.stderr()


def billing_of(sub, base=BASE):
    bills = sub.json_on(base + "/billing")
    for x in bills:
        jsonschema.validate(x, BILLING)
    return bills


def test_billing_never_dropped_by_a_full_queue():
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, [BASE + "/billing"])
    h.on_close(sub.close)
    r = S.run(h, "--no-state", "--tcp", "off", "--mqtt",
              "mqtt://127.0.0.1:%d" % b.port, "--mqtt-period", "60",
              "--mqtt-queue", "2", "--load", "U=230,I=10,PF=1",
              "--start", "2026-01-15T00:00:00",
              "--until", "2026-05-02T00:00:00", "--speed", "max")
    assert r.returncode == 0, r.stderr
    bills = sub.wait(lambda _: billing_of(sub) if len(
        {x["month"] for x in billing_of(sub)}) >= 4 else None)
    assert {x["month"] for x in bills} == {"2026-01", "2026-02", "2026-03",
                                           "2026-04"}, bills
    assert all(x["active"]["total"] > 0 for x in bills), bills


def test_billing_for_months_settled_while_stopped_and_after_a_jump():
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, [BASE + "/billing", BASE + "/result"])
    h.on_close(sub.close)
    state = h.path("meter.state")
    common = ("--state", state, "--tcp", "off", "--mqtt",
              "mqtt://127.0.0.1:%d" % b.port, "--load", "U=230,I=10,PF=1",
              "--speed", "max")
    r = S.run(h, *common, "--start", "2027-03-01T00:00:00",
              "--until", "2027-03-10T00:00:00")
    assert r.returncode == 0, r.stderr
    r = S.run(h, *common, "--start", "2027-06-10T00:00:00",
              "--until", "2027-06-10T00:00:05")
    assert r.returncode == 0, r.stderr
    bills = sub.wait(lambda _: billing_of(sub) if len(billing_of(sub)) >= 3
                     else None)
    assert [x["month"] for x in bills] == ["2027-03", "2027-04", "2027-05"]
    # March holds the 9 days measured (2.3 kW), April and May are empty
    assert abs(bills[0]["active"]["total"] - 9 * 24 * 2.3) < 1, bills[0]
    assert bills[1]["active"]["total"] == 0 == bills[2]["active"]["total"]
    # a clock jump over 14 month ends: the month measured (with its
    # energy), then the 12 latest
    sub2 = subscribed(h, b)
    m = meter(h, b, "--load", "U=230,I=10,PF=1", "--speed", "1000",
              "--start", "2028-01-01T00:00:00", state=h.path("jump.state"))
    sub2.wait(lambda _: [t for t in states(sub2) if t["month"]["active"] > 1])
    n = len(billing_of(sub))
    r = result_of(sub, "time", '{"time": "2029-03-05T00:00:00"}')
    assert r["ok"], r
    bills = sub.wait(lambda _: billing_of(sub)[n:] if len(
        billing_of(sub)) >= n + 13 else None)
    months = [x["month"] for x in bills]
    assert months[0] == "2028-01" and months[1] == "2028-03", months
    assert months[-1] == "2029-02" and len(set(months)) == 13, months
    assert bills[0]["active"]["total"] > 1, bills[0]
    assert all(x["active"]["total"] == 0 for x in bills[1:]), bills


def test_time_zero_is_a_time():
    h = H.harness()
    b = M.Broker(h)
    sub, m = frozen_meter(h, b)
    r = result_of(sub, "time", '{"time": "1970-01-01T00:00:00"}')
    assert r["ok"] and r["time"] == "1970-01-01T00:00:00", r
    result_and_report(sub)
    t = states(sub)[-1]
    jsonschema.validate(t, SCHEMA)
    assert t["time"] == "1970-01-01T00:00:00", t


IN_USE = "probably in use by another client"


def test_serial_base_lets_two_processes_share_a_broker():
    h = H.harness()
    b = M.Broker(h)
    sub = M.Sub(b.port, ["kpm31c/+/availability", "kpm31c/+/state"])
    h.on_close(sub.close)
    one = meter(h, b, "--load", LOAD, "--meters", "2", "--mqtt-period", "1",
                state=h.path("one.state"))
    two = meter(h, b, "--load", LOAD, "--meters", "2", "--mqtt-period", "1",
                "--serial-base", "32000001", state=h.path("two.state"))
    serials = ["31000001", "31000002", "32000001", "32000002"]
    for sn in serials:
        wait_seq(sub, 5, base="kpm31c/" + sn)
    for sn in serials:      # connected once each: no takeover, no flapping
        assert sub.on("kpm31c/%s/availability" % sn) == [(b"online", False)]
    assert m_regs_serial(two) == 32000001
    for m in (one, two):
        assert IN_USE not in m.proc.stderr()
    # the state file keeps the serials: another --serial-base is refused
    two.proc.stop()
    r = S.run(h, "--state", h.path("two.state"), "--tcp", "off",
              "--meters", "2", "--serial-base", "33000001", "--until", "1")
    assert r.returncode == 2 and "has serial 32000001" in r.stderr, r.stderr


def m_regs_serial(m):
    hi, lo = m.regs(0x1002, 2)
    return hi << 16 | lo


def test_a_client_id_in_use_is_reported_once():
    h = H.harness()
    b = M.Broker(h)
    one = meter(h, b, "--load", LOAD, state=h.path("one.state"))
    two = meter(h, b, "--load", LOAD, state=h.path("two.state"))
    # the same serials, so the same client ids: the broker closes the
    # older connection each time the other reconnects
    for m in (one, two):
        line = m.proc.wait_stderr(".*" + IN_USE + ".*", timeout=60).group(0)
        assert "error" in line and "'kpm31c-31000001'" in line, line
        assert "--serial-base" in line and "--mqtt-client-id" in line, line
    # later takeovers say nothing more at default verbosity
    sub = M.Sub(b.port, ["kpm31c/+/availability"])
    h.on_close(sub.close)
    sub.wait(lambda _: len(sub.on(BASE + "/availability")) >= 4, timeout=60)
    for m in (one, two):
        assert m.proc.stderr().count(IN_USE) == 1, m.proc.stderr()


def test_credentials_revoked_while_connected_are_an_error():
    h = H.harness()
    pw = h.path("passwd")

    def passwd(password):
        subprocess.run(["mosquitto_passwd", "-b", "-c", pw, "meter",
                        password], check=True, capture_output=True)
        os.chmod(pw, 0o600)

    passwd("s3cret")
    b = M.Broker(h, conf="password_file %s\nallow_anonymous false" % pw)
    env = dict(os.environ, KPM31C_MQTT_USER="meter",
               KPM31C_MQTT_PASSWORD="s3cret")
    proc = h.start([S.exe(), "--headless", "--no-state", "--tcp", "off",
                    "--mqtt", "mqtt://127.0.0.1:%d" % b.port,
                    "--mqtt-reconnect-max", "1"], env=env, stdin=False)
    proc.wait_stderr(r"connected to mqtt://")
    # the password changes; mosquitto re-reads the file on SIGHUP and
    # drops the clients it no longer accepts
    passwd("changed")
    b.proc.p.send_signal(signal.SIGHUP)
    line = proc.wait_stderr(r".*refused meter 31000001's connection.*",
                            30).group(0)
    assert "error" in line and "user 'meter'" in line, line
    assert "not authorized" in line or "bad user name or password" in line, \
        line
    assert proc.running(), "a refusal after a good connection is retried"
    assert proc.stderr().count("refused meter") == 1, proc.stderr()


if __name__ == "__main__":
    H.main(globals())
