"""The command line is a contract: bad input of every kind gets exit 2
and a message naming what was wrong; runtime failures exit 3.
Usage: test_sim_cli.py KPM31C_SIM"""

import json
import os
import re
import socket
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

BAD = [
    (["--speed", "fast"], "--speed: 'fast'"),
    (["--speed", "-1"], "--speed: '-1'"),
    (["--load", "U=abc"], "bad value 'abc' for U"),
    (["--load", "X=1"], "unknown key 'X'"),
    (["--load", "U230"], "'U230' is not KEY=VALUE"),
    (["--load", "PF=1.5"], "bad value '1.5' for PF"),
    (["--baud", "300"], "--baud: '300'"),
    (["--parity", "X"], "--parity: 'X'"),
    (["--slave", "0"], "--slave: '0'"),
    (["--slave", "248"], "--slave: '248'"),
    (["--meters", "0"], "--meters: '0'"),
    (["--start", "2026-13-01"], "--start: '2026-13-01'"),
    (["--start", "2027-02-29"], "--start: '2027-02-29'"),
    (["--until", "soon"], "--until: 'soon'"),
    (["--tcp", "localhost"], "--tcp: 'localhost' is not HOST:PORT"),
    (["--tcp", "127.0.0.1:99999"], "--tcp: '127.0.0.1:99999'"),
    (["--fidelity", "ultra"], "--fidelity: 'ultra'"),
    (["--checkpoint", "0"], "--checkpoint: '0'"),
    (["--seed", "-3"], "--seed: '-3'"),
    (["--seed", "18446744073709551616"],
     "--seed: '18446744073709551616' is not an integer 0..18446744073709551615"),
    (["--load", ""], "--load: '' is empty"),
    (["--load", "I=5,DIR=import,PF=-0.8"], "contradict"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--speed"], "--speed needs a value"),
    (["a.lua", "b.lua"], "unexpected argument 'b.lua'"),
    (["--fault", "explode"], "--fault: 'explode' unknown fault"),
    (["--fault", "dely=20"], "unknown key 'dely' (a fault kind: delay=MS, "
     "noreply, busy or badcrc; then keys: slave=, addr=, p=, transport=)"),
    (["--fault", "delay=100,p=2"], "--fault: 'delay=100,p=2'"),
    (["--start", "2026-02-01", "--until", "2026-01-01"],
     "--until is before the clock's start"),
    (["--speed", "0", "--until", "1h"], "a frozen clock never gets there"),
    (["--dump", "/nonexistent-dir/d.json"],
     "--dump /nonexistent-dir/d.json: directory /nonexistent-dir does not exist"),
]


def test_bad_input_exits_2_naming_it():
    h = H.harness()
    for args, words in BAD:
        r = S.run(h, "--no-state", "--tcp", "off", *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert words in r.stderr, (args, r.stderr)
        assert r.stdout == "", (args, r.stdout)
    # nothing was left behind by a refused start
    assert os.listdir(h.tmp) == [], os.listdir(h.tmp)


def test_help_and_version():
    h = H.harness()
    r = S.run(h, "--help")
    assert r.returncode == 0
    for opt in ["--headless", "--tcp", "--rtu", "--baud", "--parity",
                "--slave", "--meters", "--mqtt", "--state", "--no-state",
                "--start", "--speed", "--until", "--load", "--dump", "--seed",
                "--junit", "--tap", "--version", "--help"]:
        assert opt in r.stdout, opt
    r = S.run(h, "--version")
    assert r.returncode == 0 and r.stdout.startswith("kpm31c-sim "), r.stdout


def test_port_busy_exits_3():
    h = H.harness()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = S.run(h, "--no-state", "--tcp", "127.0.0.1:%d" % port)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert str(port) in r.stderr and "in use" in r.stderr.lower(), r.stderr


def test_rtu_path_that_is_a_file_exits_3_and_is_kept():
    h = H.harness()
    path = h.path("not-a-pty")
    with open(path, "w") as f:
        f.write("precious\n")
    r = S.run(h, "--no-state", "--tcp", "off", "--rtu", path, "--until", "5")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert path in r.stderr, r.stderr
    with open(path) as f:
        assert f.read() == "precious\n"


def dump_of(h, *args):
    """Run a second at max speed with a dump; the dump and stderr."""
    path = h.path("d.json")
    r = S.run(h, "--no-state", "--tcp", "off", "--speed", "max",
              "--until", "2s", "--dump", path, *args)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    with open(path) as f:
        return json.load(f), r.stderr


def test_a_negative_pf_exports():
    h = H.harness()
    for load in ["U=230,I=5,PF=-0.8", "U=230,I=-5,PF=0.8",
                 "U=230,I=5,PF=0.8,DIR=export"]:
        d, _ = dump_of(h, "--load", load)
        m = d["measurements"]
        assert abs(m["p"] + 920) < 1, (load, m)
        assert abs(m["pf"] + 0.8) < 1e-4, (load, m)


def test_the_largest_seed_is_taken():
    h = H.harness()
    dump_of(h, "--seed", "18446744073709551615")


def test_q_reads_exactly_zero_at_pf_1():
    h = H.harness()
    for fidelity in ["fast", "full"]:
        d, _ = dump_of(h, "--load", "U=230,I=5,PF=1", "--fidelity", fidelity)
        assert d["measurements"]["q"] == 0, d["measurements"]
        assert d["registers"]["0036"] == 0, d["registers"]["0036"]


def test_loads_beyond_the_front_end_are_warned_once():
    h = H.harness()
    _, err = dump_of(h, "--load", "U=230,I=100")
    assert err.count("warning: meter 1: the current peaks at 141.4 A, "
                     "beyond the front end's 120 A full scale") == 1, err
    assert "rated Imax 60 A" in err, err
    assert "voltage" not in err, err
    _, err = dump_of(h, "--load", "U=500,I=5", "--meters", "3")
    assert err.count("the voltage peaks at 707.1 V") == 1, err
    assert "current peaks" not in err, err
    _, err = dump_of(h, "--load", "U=240,I=60")
    assert "warning" not in err, err


def test_dump_names_units_serial_and_extension():
    h = H.harness()
    d, _ = dump_of(h, "--load", "U=230,I=5,PF=1", "--meters", "2",
                   "--start", "2026-03-01T10:00")
    # the keys scripts already read are all there
    for key in ["registers", "measurements", "pulses", "relay", "slave",
                "time", "meters"]:
        assert key in d, key
    info = d["register_info"]
    assert info["0030"] == {"name": "voltage U", "unit": "V"}, info["0030"]
    assert info["0080"]["unit"] == "kWh" and info["0086"]["unit"] == "kvarh"
    assert info["00C4"]["name"] == \
        "combined reactive energy, previous month 7", info["00C4"]
    assert info["019E"] == {"name": "valley reactive energy, previous month "
                            "12", "unit": "kvarh"}, info["019E"]
    assert set(d["registers"]) <= set(info), set(d["registers"]) - set(info)
    assert info["1002"] == {"name": "serial number"}, info["1002"]
    assert d["serial"] == 31000001
    assert [m["serial"] for m in d["meters"]] == [31000001, 31000002]
    x = d["extension"]
    assert x["1002"] == 31000001 and x["1101"] == 9600, x
    assert x["1110"] == 2026 and x["1111"] == 3 and x["1113"] == 10, x
    assert x["1004"] == d["pulses"], (x["1004"], d["pulses"])
    assert x["1100"] == 1 and d["meters"][1]["extension"]["1100"] == 2
    assert set(x) <= set(info), set(x) - set(info)


def test_meters_past_address_247_are_warned():
    h = H.harness()
    _, err = dump_of(h, "--meters", "300")
    assert ("meters 247..299 (53; indexes, as the API and the ready file "
            "count) are past slave address 247: simulated, but not "
            "reachable over Modbus") in err, err
    _, err = dump_of(h, "--meters", "10", "--slave", "240")
    assert "meters 8..9 (2; indexes" in err, err
    _, err = dump_of(h, "--meters", "247")
    assert "past slave address" not in err, err


def test_until_is_said_however_short():
    # --until 1s is reached by the power-on second itself, before the
    # loop runs: the run still says it got there, as a longer one does
    h = H.harness()
    for until in ["1s", "3s"]:
        r = S.run(h, "--no-state", "--tcp", "off", "--speed", "max",
                  "--start", "2026-01-01T00:00:00", "--until", until)
        assert r.returncode == 0, (until, r.returncode, r.stderr)
        want = "reached --until 2026-01-01T00:00:0%s" % until[0]
        assert want in r.stderr, (until, r.stderr)


def test_an_output_on_a_pipe_says_it_is_a_pipe():
    # /dev/stdout on a pipe leads to /proc/self/fd/pipe:[N], a name that
    # says nothing: the error names what the user gave and what it is
    h = H.harness()
    r = S.run(h, "--no-state", "--tcp", "off", "--speed", "max", "--until",
              "2s", "--dump", "/dev/stdout")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert ("--dump /dev/stdout: is a pipe, not a regular file" in r.stderr
            and "- writes to stdout" in r.stderr and "pipe:[" not in
            r.stderr), r.stderr


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_the_man_page_names_every_option_and_variable():
    """docs/kpm31c-sim.1.scd cannot fall behind the option table: each
    option of --help has its entry with its KPM31C_ variable, and every
    other variable the binary reads is under ENVIRONMENT."""
    h = H.harness()
    r = S.run(h, "--help")
    names = set(re.findall(r"--([a-z][a-z0-9-]+)", r.stdout))
    assert {"tcp", "http", "config", "fault", "ready-file"} <= names, names
    with open(os.path.join(ROOT, "docs", "kpm31c-sim.1.scd")) as f:
        page = f.read()
    missing = sorted(n for n in names if "*--%s*" % n not in page)
    assert not missing, "options missing from the man page: %s" % missing
    variables = {"KPM31C_" + n.upper().replace("-", "_") for n in names
                 if n not in ("help", "version")}
    # what the sources read besides the options' own
    for d, _, files in os.walk(os.path.join(ROOT, "sim")):
        for name in files:
            if name.endswith(".c"):
                with open(os.path.join(d, name)) as f:
                    text = f.read()
                variables |= set(re.findall(r'"(KPM31C_[A-Z_]+)"', text))
    variables -= {"KPM31C_", "KPM31C_DEFAULT_"}     # the prefixes
    missing = sorted(v for v in variables if "*%s*" % v not in page)
    assert not missing, "variables missing from the man page: %s" % missing
    for prefix in ("*KPM31C_NAME*", "*KPM31C_DEFAULT_NAME*"):
        assert prefix in page, prefix


if __name__ == "__main__":
    H.main(globals())
