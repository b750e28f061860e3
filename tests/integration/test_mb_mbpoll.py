"""mbpoll, a real Modbus master, against the transports: RTU over the pty
at 9600 8E1 (and 8N2 after a line change), and TCP. Floats are ABCD (high
word first): mbpoll needs -B; its -r is 1-based unless -0.
Usage: test_mb_mbpoll.py MB_TEST_SERVER"""

import re
import shutil
import subprocess
import sys

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"


def mbpoll(*args):
    """Run mbpoll once; (exit status, stdout, stderr)."""
    r = subprocess.run(["mbpoll", "-1", "-o", "2"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def values(out):
    """{reference: value string} from mbpoll's "[ref]: value" lines."""
    return {int(m.group(1)): m.group(2)
            for m in re.finditer(r"^\[(\d+)\]:\s+(\S+)", out, re.M)}


def rtu(link, *args, parity="even", stop=1, write=()):
    return mbpoll("-m", "rtu", "-b", 9600, "-d", 8, "-P", parity, "-s", stop,
                  *args, link, *write)


def test_mbpoll_rtu_9600_8e1():
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True)
    rc, out, err = rtu(srv.link, "-a", 2, "-0", "-r", 0x30, "-c", 8,
                       "-t", "4:hex")
    assert rc == 0, err
    assert values(out) == {0x30 + k: "0x%04X" % H.bank_value(2, 0x30 + k)
                           for k in range(8)}, out
    # 1-based references without -0: -r 49 is address 0x30
    rc, out, err = rtu(srv.link, "-a", 2, "-r", 49, "-c", 1, "-t", "4:hex")
    assert values(out) == {49: "0x%04X" % H.bank_value(2, 0x30)}, out
    # a float written and read back high word first (-B), as the meter
    # stores them
    rc, out, err = rtu(srv.link, "-a", 1, "-0", "-r", 0x100, "-t", "4:float",
                       "-B", write=[230.5])
    assert rc == 0 and "Written 1 references" in out, (out, err)
    rc, out, err = rtu(srv.link, "-a", 1, "-0", "-r", 0x100, "-c", 2,
                       "-t", "4:hex")
    assert values(out) == {0x100: "0x4366", 0x101: "0x8000"}, out
    rc, out, err = rtu(srv.link, "-a", 1, "-0", "-r", 0x100, "-t", "4:float",
                       "-B")
    assert values(out) == {0x100: "230.5"}, out
    # without -B mbpoll takes the low word first and reads nonsense
    rc, out, err = rtu(srv.link, "-a", 1, "-0", "-r", 0x100, "-t", "4:float")
    assert values(out)[0x100] != "230.5", out
    # exceptions and silence as mbpoll reports them
    rc, out, err = rtu(srv.link, "-a", 1, "-0", "-r", 0x300)
    assert "Illegal data address" in out + err, (out, err)
    rc, out, err = rtu(srv.link, "-a", 9, "-0", "-r", 0x30)
    assert "timed out" in out + err, (out, err)


def test_mbpoll_rtu_after_line_change_to_8n2():
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True)
    srv.command("line 9600 N")
    rc, out, err = rtu(srv.link, "-a", 3, "-0", "-r", 0x1F0, "-c", 16,
                       "-t", "4:hex", parity="none", stop=2)
    assert rc == 0, err
    assert values(out) == {0x1F0 + k: "0x%04X" % H.bank_value(3, 0x1F0 + k)
                           for k in range(16)}, out


def test_mbpoll_tcp():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    base = ["-m", "tcp", "-p", srv.port]
    rc, out, err = mbpoll(*base, "-a", 1, "-0", "-r", 0x30, "-c", 125,
                          "-t", "4:hex", "127.0.0.1")
    assert rc == 0, err
    assert values(out) == {0x30 + k: "0x%04X" % H.bank_value(1, 0x30 + k)
                           for k in range(125)}
    rc, out, err = mbpoll(*base, "-a", 2, "-0", "-r", 0x180, "127.0.0.1",
                          5, 6, 7)
    assert rc == 0 and "Written 3 references" in out, (out, err)
    rc, out, err = mbpoll(*base, "-a", 2, "-0", "-r", 0x180, "-c", 3,
                          "127.0.0.1")
    assert values(out) == {0x180: "5", 0x181: "6", 0x182: "7"}, out
    rc, out, err = mbpoll(*base, "-a", 200, "-0", "-r", 0, "127.0.0.1")
    assert "Target device failed to respond" in out + err, (out, err)


if __name__ == "__main__":
    if not shutil.which("mbpoll"):
        print("1..0 # SKIP mbpoll is not installed (scripts/setup)")
        sys.exit(0)
    H.main(globals())
