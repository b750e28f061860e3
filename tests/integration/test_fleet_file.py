"""The fleet file (--config FILE, docs/fleet.md) and the KPM31C_*
variables: a fleet of differing meters read back over Modbus; the command
line over the environment over the file; bad files refused with exit 2,
the JSON path in the message and nothing started; the schema of
docs/fleet.schema.json against the docs' example files.
Usage: test_fleet_file.py KPM31C_SIM [DOCS_DIR]"""

import json
import os
import re
import struct
import subprocess
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
DOCS = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "docs")


def write(h, name, doc):
    path = h.path(name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def env_without_kpm31c(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KPM31C_")}
    env.update(extra)
    return env


def run(h, *args, env=None):
    return subprocess.run([S.exe()] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=h.tmp,
                          env=env or env_without_kpm31c())


def regs(port, unit, addr, count):
    with H.tcp_connect(port) as s:
        pdu = H.tcp_request(s, H.pdu_read(addr, count), unit=unit)
    assert H.exception_of(pdu) is None, (unit, hex(addr), pdu)
    return H.regs_of(pdu)


def f32(r, order="ABCD"):
    if order == "CDAB":
        r = [r[1], r[0]]
    return struct.unpack(">f", struct.pack(">HH", r[0], r[1]))[0]


def u32(r):
    return r[0] << 16 | r[1]


def test_a_fleet_of_differing_meters_from_a_file():
    h = H.harness()
    port = H.free_port()
    path = write(h, "fleet.json", {
        "tcp": "127.0.0.1:%d" % port,
        "headless": True,
        "no-state": True,
        "meters": [
            {"range": "1-3", "slave": 10, "serial": 7001,
             "load": {"U": 230, "I": 5, "PF": 1}},
            {"index": 4, "slave": 40, "serial": 9999,
             "load": "U=120,I=2,PF=0.5C,F=60",
             "settings": {
                 "word_order": "CDAB",
                 "password": 1234,
                 "demand": {"period": 30, "slide": 5},
                 "prepaid": {"alarm": 2000, "limit": 4000, "delay": 30},
                 "tariff": {"zones": [
                     {"from": "01-01", "periods": [["00:00", "valley"],
                                                   ["07:00", "peak"]]},
                     {"from": "06-01", "periods": [
                         {"at": "00:00", "rate": 3}]}]}}},
        ]})
    p = h.start([S.exe(), "--config", path], stdin=False,
                env=env_without_kpm31c())

    def up():
        assert p.running(), p.stderr()
        try:
            regs(port, 10, 0x30, 2)
            return True
        except (OSError, AssertionError):
            return False
    assert H.wait_until(up, timeout=15), p.stderr()
    try:
        for k, unit in enumerate((10, 11, 12)):
            assert abs(f32(regs(port, unit, 0x30, 2)) - 230) < 0.5
            assert abs(f32(regs(port, unit, 0x32, 2)) - 5) < 0.05
            assert u32(regs(port, unit, 0x1002, 2)) == 7001 + k
            assert regs(port, unit, 0x1100, 1) == [unit]
            assert regs(port, unit, 0x1103, 1) == [0]        # ABCD
            assert regs(port, unit, 0x1120, 2) == [15, 1]    # factory
        # meter 4: its own address, serial, load and settings
        assert u32(regs(port, 40, 0x1002, 2)) == 9999
        assert regs(port, 40, 0x1103, 1) == [1]              # CDAB
        assert abs(f32(regs(port, 40, 0x30, 2), "CDAB") - 120) < 0.5
        assert abs(f32(regs(port, 40, 0x3C, 2), "CDAB") - 60) < 0.05
        pf = f32(regs(port, 40, 0x3A, 2), "CDAB")
        assert abs(pf - 0.5) < 0.01, pf
        assert regs(port, 40, 0x1105, 1) == [1234]
        assert regs(port, 40, 0x1120, 2) == [30, 5]
        assert u32(regs(port, 40, 0x1136, 2)) == 2000
        assert u32(regs(port, 40, 0x1138, 2)) == 4000
        assert regs(port, 40, 0x113A, 1) == [30]
        t = regs(port, 40, 0x1200, 73)
        assert t[0] == 2 and t[1:3] == [101, 601], t[:5]
        assert t[5:10] == [2, 0, 4, 700, 2], t[5:10]
        assert t[22:25] == [1, 0, 3], t[22:25]
        # no meter kept the factory address 1
        with H.tcp_connect(port) as s:
            s.settimeout(1.0)
            s.sendall(H.mbap(7, 1, H.pdu_read(0x30, 2)))
            try:
                reply = s.recv(64)
            except OSError:
                reply = b""
        assert reply == b"" or reply[7] & 0x80, reply
    finally:
        assert p.stop() == 0, p.stderr()
        h.close()


def slave_in_dump(h, env, *cli):
    r = run(h, "--config", "fleet.json", *cli, env=env)
    assert r.returncode == 0, r.stderr
    d = S.dump(h.path("out.json"))      # one meter: its fields at the top
    return d["slave"], d["measurements"]["i"]


def test_command_line_over_environment_over_file():
    h = H.harness()
    write(h, "fleet.json", {"slave": 5, "load": "U=230,I=1", "tcp": "off",
                            "no-state": True, "speed": "max", "until": "5s",
                            "dump": "out.json", "headless": True})
    slave, i = slave_in_dump(h, None)
    assert (slave, round(i)) == (5, 1)
    env = env_without_kpm31c(KPM31C_SLAVE="6", KPM31C_LOAD="U=230,I=2")
    slave, i = slave_in_dump(h, env)
    assert (slave, round(i)) == (6, 2)
    slave, i = slave_in_dump(h, env, "--slave", "7")
    assert (slave, round(i)) == (7, 2)
    slave, i = slave_in_dump(h, env, "--load", "U=230,I=3")
    assert (slave, round(i)) == (6, 3)
    # $KPM31C_CONFIG names the file; --config wins over it
    write(h, "other.json", {"slave": 9, "tcp": "off", "no-state": True,
                            "speed": "max", "until": "5s",
                            "dump": "out.json", "headless": True})
    env = env_without_kpm31c(KPM31C_CONFIG="other.json")
    r = run(h, env=env)
    assert r.returncode == 0, r.stderr
    assert S.dump(h.path("out.json"))["slave"] == 9
    slave, _ = slave_in_dump(h, env)
    assert slave == 5
    # a bad fault is named where it came from: the file's JSON path, the
    # variable (which holds several, separated by ';'), the option
    write(h, "faults.json", {"fault": ["busy,p=0.5", "explode"], "tcp": "off",
                             "no-state": True, "until": "1s"})
    r = run(h, "--config", "faults.json")
    assert r.returncode == 2 and "faults.json: $.fault[1]: 'explode' " \
        "unknown fault" in r.stderr, r.stderr
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s",
            env=env_without_kpm31c(KPM31C_FAULT="busy,p=0.5; delay=x"))
    assert r.returncode == 2 and "KPM31C_FAULT: 'delay=x' delay=x: not a " \
        "whole number" in r.stderr, r.stderr
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s", "--speed",
            "max", env=env_without_kpm31c(KPM31C_FAULT="busy,p=0.5;noreply"))
    assert r.returncode == 0, r.stderr
    # the file's list of faults replaced by the command line's
    write(h, "faults.json", {"fault": ["noreply"], "tcp": "off",
                             "no-state": True, "until": "1s"})
    r = run(h, "--config", "faults.json", "--fault", "busy,p=0.5",
            "--speed", "max")
    assert r.returncode == 0, r.stderr
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s", "--speed",
            "max", env=env_without_kpm31c(KPM31C_QUIET="yes"))
    assert r.returncode == 0 and r.stderr == "", r.stderr


BAD_FILES = [
    ('{"meters": [\n  {"index": 1,}\n]}\n', "bad.json:2:"),
    ('{"speed": 1, "speed": 2}', "duplicate object key"),
    ("[]", "bad.json: $: is a list, not an object"),
    ({"sped": 2}, 'bad.json: $.sped: unknown key "sped"'),
    ({"help": True}, 'bad.json: $.help: unknown key "help"'),
    ({"meters": [{"index": 1, "lod": "U=1"}]},
     'bad.json: $.meters[0]: unknown key "lod"'),
    ({"speed": True}, "bad.json: $.speed: true is a boolean, not a number"),
    ({"headless": "yes"}, "bad.json: $.headless: yes is a value, not true"),
    ({"tcp": ["127.0.0.1:1502"]}, "bad.json: $.tcp[0]: --tcp takes one value"),
    ({"meters": [{"index": "2"}]},
     'bad.json: $.meters[0].index: "2" is a string, not a whole number'),
    ({"meters": [{"index": 1, "load": 230}]},
     "bad.json: $.meters[0].load: is a number, not"),
    ({"speed": "fast"}, "bad.json: $.speed: 'fast' is not a number >= 0"),
    ({"mqtt-keepalive": 2},
     "bad.json: $.mqtt-keepalive: '2' is not seconds 5..3600"),
    ({"meters": [{"index": 1}, {"index": 2, "load": {"U": 230, "PF": 1.7}}]},
     "bad.json: $.meters[1].load.PF: bad value '1.7' for PF"),
    ({"meters": [{"index": 1, "slave": 300}]},
     "bad.json: $.meters[0].slave: 300 is not 1..247"),
    ({"meters": [{"range": "1-10", "slave": 240}]},
     "bad.json: $.meters[0].slave: 240 is not 1..238"),
    ({"meters": [{"range": "5-2"}]},
     'bad.json: $.meters[0].range: is not "A-B"'),
    ({"meters": [{"range": "1-10"}, {"range": "5-12"}]},
     "bad.json: $.meters[1]: meters 5-12 overlap $.meters[0] (1-10)"),
    ({"meters": [{"index": 1, "settings": {"demand": {"period": 15,
                                                      "slide": 7}}}]},
     "bad.json: $.meters[0].settings.demand: a slide of 7 min does not "
     "divide a period of 15 min"),
    ({"meters": [{"index": 1, "settings": {"word_order": "ABDC"}}]},
     'bad.json: $.meters[0].settings.word_order: "ABDC" is not'),
    ({"meters": [{"index": 1, "settings": {"tariff": [["08:00", "peak"],
                                                      ["07:00", 5]]}}]},
     "bad.json: $.meters[0].settings.tariff[1]: 5 is not a rate"),
    ({"meters": [{"index": 1, "settings": {"tariff": [["08:00", "peak"],
                                                      ["07:00", 4]]}}]},
     "bad.json: $.meters[0].settings.tariff[1]: starts at 07:00, not after"),
    ({"meters": [{"index": 1, "settings": {"prepaid": {"on": 1}}}]},
     "bad.json: $.meters[0].settings.prepaid.on: is a number, not true"),
    ({"meters": [{"index": 1, "args": {"kw": [1]}}]},
     "bad.json: $.meters[0].args.kw: is a list, not a number or a string"),
]


def refused(h, r, words):
    assert r.returncode == 2, (words, r.returncode, r.stderr)
    assert words in r.stderr, (words, r.stderr)
    assert r.stdout == "", (words, r.stdout)
    # nothing started: no state file, no dump
    assert sorted(os.listdir(h.tmp)) == ["bad.json"], os.listdir(h.tmp)


def test_bad_files_name_the_json_path_and_start_nothing():
    h = H.harness()
    for doc, words in BAD_FILES:
        write(h, "bad.json", doc)
        r = run(h, "--config", "bad.json", "--until", "1s", "--dump",
                "out.json")
        refused(h, r, words)
    # what only the built fleet shows: still before anything listens
    for doc, cli, words in [
            ({"meters": [{"range": "1-3"}]}, ["--meters", "2"],
             "bad.json: $.meters[0]: meter 3 is beyond the fleet of 2"),
            ({"meters": [{"index": 1, "slave": 2}]}, ["--meters", "2"],
             "bad.json: $.meters[0]: meters 1 and 2 would both have slave "
             "address 2"),
            # a serial names a meter (API paths, MQTT topics, metrics)
            ({"meters": [{"index": 1, "serial": 5},
                         {"index": 2, "serial": 5}]}, ["--meters", "2"],
             "bad.json: $.meters[1]: meters 1 and 2 would both have serial "
             "00000005"),
            ({"meters": [{"index": 1, "serial": 6}]},
             ["--meters", "3", "--serial-base", "5"],
             "bad.json: $.meters[0]: meters 1 and 2 would both have serial "
             "00000006")]:
        write(h, "bad.json", doc)
        r = run(h, "--config", "bad.json", "--until", "1s", "--dump",
                "out.json", *cli)
        refused(h, r, words)
    r = run(h, "--config", "nope.json")
    assert r.returncode == 2 and "nope.json: unable to open" in r.stderr, \
        r.stderr
    write(h, "bad.json", "{}")
    r = run(h, "--config", "bad.json", env=env_without_kpm31c(
        KPM31C_SPEED="fast"))
    refused(h, r, "KPM31C_SPEED: 'fast' is not a number >= 0 or 'max'")
    r = run(h, env=env_without_kpm31c(KPM31C_HEADLESS="maybe"))
    refused(h, r, "KPM31C_HEADLESS: 'maybe' is not true or false")


def test_unknown_variables_are_named_and_empty_ones_are_unset():
    """A KPM31C_ variable no option reads is a typo: a warning names the
    closest; an empty variable is unset (as a flag's empty value is)."""
    h = H.harness()
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s", "--speed",
            "max", "--dump", "out.json", env=env_without_kpm31c(
                KPM31C_SPED="0", KPM31C_DEFAULT_LAOD="U=1",
                KPM31C_SLAVE="", KPM31C_HTTP_TOKEN=""))
    assert r.returncode == 0, r.stderr
    assert "KPM31C_SPED is no variable of kpm31c-sim, ignored (the " \
        "closest is KPM31C_SPEED" in r.stderr, r.stderr
    assert "KPM31C_DEFAULT_LAOD is no variable of kpm31c-sim, ignored " \
        "(the closest is KPM31C_DEFAULT_LOAD" in r.stderr, r.stderr
    assert "KPM31C_SLAVE" not in r.stderr and "token" not in r.stderr, \
        r.stderr
    assert S.dump(h.path("out.json"))["slave"] == 1
    # loopback needs no token: an empty one is none, not a bad one
    port = H.free_port()
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s", "--speed",
            "max", "--http", "127.0.0.1:%d" % port,
            env=env_without_kpm31c(KPM31C_HTTP_TOKEN=""))
    assert r.returncode == 0, r.stderr
    r = run(h, "--tcp", "off", "--no-state", "--until", "1s", "--speed",
            "max", "--http-token", "abc")
    assert r.returncode == 0 and "--http-token without --http" in \
        r.stderr, r.stderr


def test_defaults_layer_yields_to_every_other_source():
    """KPM31C_DEFAULT_NAME (scripts/run's and the service unit's
    defaults) is the weakest source: the file, KPM31C_NAME and the command
    line each replace it; a scenario's own defaults beat it too."""
    h = H.harness()
    write(h, "fleet.json", {"load": "U=100,I=1,PF=1", "no-state": True,
                            "until": "5s", "speed": "max", "tcp": "off",
                            "dump": "out.json", "headless": True})
    base = dict(KPM31C_DEFAULT_LOAD="U=230,I=7,PF=1",
                KPM31C_DEFAULT_SLAVE="9")

    def dumped(*cli, **env):
        r = run(h, *cli, env=env_without_kpm31c(**dict(base, **env)))
        assert r.returncode == 0, r.stderr
        return S.dump(h.path("out.json"))
    d = dumped("--config", "fleet.json")
    assert round(d["measurements"]["i"]) == 1 and d["slave"] == 9, d
    d = dumped("--config", "fleet.json", KPM31C_SLAVE="4")
    assert d["slave"] == 4, d
    d = dumped("--no-state", "--until", "5s", "--speed", "max", "--tcp",
               "off", "--dump", "out.json")
    assert round(d["measurements"]["i"]) == 7 and d["slave"] == 9, d
    d = dumped("--no-state", "--until", "5s", "--speed", "max", "--tcp",
               "off", "--dump", "out.json", "--load", "U=230,I=2")
    assert round(d["measurements"]["i"]) == 2, d
    r = run(h, "--tcp", "off", "--no-state", env=env_without_kpm31c(
        KPM31C_DEFAULT_SPEED="fast"))
    assert r.returncode == 2 and "KPM31C_DEFAULT_SPEED: 'fast' is not" in \
        r.stderr, r.stderr


# ---- the schema and the docs

def schema():
    with open(os.path.join(DOCS, "fleet.schema.json")) as f:
        return json.load(f)


def doc_files():
    """The ```json blocks of docs/fleet.md marked <!-- file: NAME -->."""
    text = open(os.path.join(DOCS, "fleet.md")).read()
    return re.findall(r"<!--\s*file:\s*(\S+)\s*-->\s*\n```json\n(.*?)```",
                      text, re.S)


def test_schema_validates_the_docs_examples_and_refuses_bad_files():
    import jsonschema
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    v = jsonschema.Draft202012Validator(s)
    files = doc_files()
    assert len(files) >= 2, files
    for name, body in files:
        errors = list(v.iter_errors(json.loads(body)))
        assert not errors, (name, [e.message for e in errors])
    for doc, words in BAD_FILES:
        if isinstance(doc, dict) and "unknown key" in words:
            assert list(v.iter_errors(doc)), doc


def test_schema_has_every_option_of_the_help():
    h = H.harness()
    r = run(h, "--help")
    names = set(re.findall(r"--([a-z][a-z-]+)", r.stdout))
    names -= {"config", "help", "version"}
    props = set(schema()["properties"])
    assert names <= props, sorted(names - props)
    assert props - names <= {"meters", "population", "scenario", "args",
                              "$schema"}, \
        sorted(props - names)


def test_the_docs_example_files_run():
    """Each example file of docs/fleet.md starts a fleet (bounded and
    off the network here)."""
    h = H.harness()
    for name, body in doc_files():
        write(h, name, body)
        r = run(h, "--config", name, "--tcp", "off", "--no-state",
                "--until", "2s", "--speed", "max", "--headless")
        assert r.returncode == 0, (name, r.stderr)


if __name__ == "__main__":
    H.main(globals())
