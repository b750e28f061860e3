"""Where a running meter listens: one log line per endpoint with the real
address (port 0 resolved, the pty's /dev/pts/N) and --ready-file, the JSON
a CI job waits for instead of sleeping (docs/usage.md).
Usage: test_endpoints.py KPM31C_SIM"""

import os
import re
import signal
import socket
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None


def start(h, *args):
    """kpm31c-sim with a ready file; (the process, the ready file's JSON)."""
    ready = h.path("ready.json")
    argv = [S.exe(), "--headless", "--state", h.path("m.state"),
            "--ready-file", ready] + [str(a) for a in args]
    p = h.start(argv, stdin=False)
    return p, ready, S.wait_ready(p, ready)


def test_port_0_and_the_pty_are_announced_and_in_the_ready_file():
    h = H.harness()
    link = h.path("ttyKPM")
    p, ready, doc = start(h, "--tcp", "127.0.0.1:0", "--rtu-tcp",
                          "127.0.0.1:0", "--rtu", link, "--meters", 3,
                          "--slave", 10)
    assert doc["pid"] == p.p.pid, doc
    kinds = {e["kind"]: e for e in doc["endpoints"]}
    assert set(kinds) == {"modbus-tcp", "modbus-rtu-tcp", "modbus-rtu"}, doc
    tcp, rtcp, rtu = (kinds["modbus-tcp"], kinds["modbus-rtu-tcp"],
                      kinds["modbus-rtu"])
    for e in (tcp, rtcp):
        assert e["host"] == "127.0.0.1" and 0 < e["port"] < 65536, e
        assert e["address"] == "127.0.0.1:%d" % e["port"], e
    assert tcp["port"] != rtcp["port"]
    assert rtu["path"] == link, rtu
    assert rtu["device"] == os.path.realpath(link), rtu
    assert re.fullmatch(r"/dev/pts/\d+", rtu["device"]), rtu
    # the meters: serials as their registers say, slave ids 10..12
    assert [m["slave"] for m in doc["meters"]] == [10, 11, 12], doc
    for m in doc["meters"]:
        r = S.regs(tcp["port"], 0x1002, 2, m["slave"])
        assert m["serial"] == r[0] << 16 | r[1], (m, r)
    # the log says the same, one line each
    err = p.stderr()
    assert "Modbus TCP on 127.0.0.1:%d\n" % tcp["port"] in err, err
    assert "Modbus RTU over TCP on 127.0.0.1:%d\n" % rtcp["port"] in err, err
    assert "Modbus RTU (pty) on %s -> %s\n" % (link, rtu["device"]) in err, err
    # the RTU over TCP port found in the file answers too
    with socket.create_connection(("127.0.0.1", rtcp["port"]), timeout=5):
        pass
    assert p.stop() == 0, p.stderr()
    assert not os.path.exists(ready), "the ready file outlived the process"


def test_the_ready_file_goes_after_the_results_are_written():
    h = H.harness()
    dump = h.path("dump.json")
    p, ready, doc = start(h, "--tcp", "127.0.0.1:0", "--speed", 60,
                          "--until", "2m", "--dump", dump)
    assert [e["kind"] for e in doc["endpoints"]] == ["modbus-tcp"], doc
    assert p.p.wait(60) == 0, p.stderr()
    assert not os.path.exists(ready)
    assert S.dump(dump)["serial"] == doc["meters"][0]["serial"]


def test_a_ready_file_that_cannot_be_removed_is_an_error_at_exit():
    """A job waits for the ready file to go: one left behind is said, and
    the exit status is 3 (here a directory took its name during the run:
    unlink refuses it, even to root)."""
    h = H.harness()
    p, ready, doc = start(h, "--tcp", "127.0.0.1:0")
    os.remove(ready)
    os.mkdir(ready)
    os.kill(p.p.pid, signal.SIGTERM)
    assert p.p.wait(30) == 3, p.stderr()
    assert "--ready-file %s: cannot remove it at exit" % ready in \
        p.stderr(), p.stderr()


def test_a_stale_ready_file_is_removed_even_when_the_start_fails():
    h = H.harness()
    ready = h.path("ready.json")
    with open(ready, "w") as f:
        f.write('{"pid": 1}\n')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = S.run(h, "--no-state", "--tcp",
                  "127.0.0.1:%d" % busy.getsockname()[1],
                  "--ready-file", ready)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert not os.path.exists(ready), "a stale ready file was left"


def test_bad_ready_files_are_refused_before_anything_runs():
    h = H.harness()
    for args, words in [
            (["--ready-file", "/nonexistent-dir/r.json"],
             "--ready-file /nonexistent-dir/r.json: directory "
             "/nonexistent-dir does not exist"),
            (["--ready-file", h.path("x.json"), "--dump", h.path("x.json")],
             "is the same file as"),
            (["--ready-file", ""], "--ready-file: '' is not a file name")]:
        r = S.run(h, "--no-state", "--tcp", "off", *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert words in r.stderr, (args, r.stderr)


if __name__ == "__main__":
    H.main(globals())
