"""The command line is a contract: bad input of every kind gets exit 2
and a message naming what was wrong; runtime failures exit 3.
Usage: test_sim_cli.py KPM31C_SIM"""

import os
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
    (["--bogus"], "unknown option '--bogus'"),
    (["--speed"], "--speed needs a value"),
    (["a.lua", "b.lua"], "unexpected argument 'b.lua'"),
    (["--fault", "explode"], "--fault 'explode'"),
    (["--fault", "delay=100,p=2"], "--fault 'delay=100,p=2'"),
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


if __name__ == "__main__":
    H.main(globals())
