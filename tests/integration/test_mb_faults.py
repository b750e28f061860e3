"""Fault injection: the spec parser's answers, and each fault kind (delay,
noreply, busy, badcrc) on its slave / address range / probability /
transport, set from the command line or at run time.
Usage: test_mb_faults.py MB_TEST_SERVER"""

import os
import select
import subprocess
import sys
import time

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"

GOOD = [
    ("delay=200,slave=1,addr=0x30-0x3d,p=0.5",
     "delay=200,slave=1,addr=0x0030-0x003d,p=0.5,transport=any"),
    ("noreply,p=0.1", "noreply,slave=any,addr=any,p=0.1,transport=any"),
    ("busy", "busy,slave=any,addr=any,p=1,transport=any"),
    ("badcrc,slave=2", "badcrc,slave=2,addr=any,p=1,transport=any"),
    ("busy,addr=48,p=25%,transport=tcp",
     "busy,slave=any,addr=0x0030,p=0.25,transport=tcp"),
    ("noreply,slave=any,addr=0x10", None),
    ("delay=0", None),
    ("p=1,busy", None),          # the kind need not come first
]

BAD = [
    ("", "empty fault spec"),
    ("slow", "unknown fault 'slow'"),
    ("delay", "delay needs a value in milliseconds"),
    ("delay=abc", "delay=abc: not a whole number of milliseconds"),
    ("delay=-5", "delay=-5: not a whole number"),
    ("delay=700000", "0..600000"),
    ("busy=3", "busy takes no value"),
    ("busy,noreply", "two fault kinds, 'busy' and 'noreply'"),
    ("busy,slave=0", "slave=0: not a slave address (1..247 or any)"),
    ("busy,slave=248", "slave=248: not a slave address"),
    ("busy,slave=x", "slave=x: not a slave address"),
    ("busy,addr=0x40-0x30", "addr=0x40-0x30: the range ends before it starts"),
    ("busy,addr=0x10000", "is not a register address"),
    ("busy,addr=", "is not a register address"),
    ("busy,p=2", "p=2: probability must be between 0 and 1"),
    ("busy,p=150%", "p=150%: probability must be between 0 and 1"),
    ("busy,p=half", "p=half: not a number"),
    ("busy,when=now", "unknown key 'when'"),
    ("busy,,p=1", "empty item"),
    ("busy,", "empty item"),
    ("slave=1", "no fault kind"),
    ("badcrc,transport=tcp", "badcrc applies to RTU only"),
    ("busy,transport=udp", "transport=udp: expected rtu, tcp or any"),
]


def test_parser_answers():
    for spec, normal in GOOD:
        r = subprocess.run([EXE, "--check-fault", spec], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0, (spec, r.stderr)
        if normal:
            assert r.stdout.strip() == normal, (spec, r.stdout)
        # the normalized form parses to itself
        r2 = subprocess.run([EXE, "--check-fault", r.stdout.strip()],
                            capture_output=True, text=True, timeout=20)
        assert r2.stdout == r.stdout, (spec, r.stdout, r2.stdout)
    for spec, msg in BAD:
        r = subprocess.run([EXE, "--check-fault", spec], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 2, (spec, r)
        assert msg in r.stderr, "%r: %r lacks %r" % (spec, r.stderr, msg)
        assert "'%s'" % spec in r.stderr, r.stderr     # names the spec
    # and a bad --fault stops the server before it serves
    r = subprocess.run([EXE, "--fault", "busy,p=7"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "p=7" in r.stderr and "ready" not in r.stdout


def tcp_quiet(sock, seconds=0.6):
    """True when nothing arrives on sock for seconds."""
    r, _, _ = select.select([sock], [], [], seconds)
    return not r


def test_delay_tcp():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--fault", "delay=300,slave=1,"
                                   "addr=0x30-0x3d"])
    s = H.tcp_connect(srv.port)
    t0 = time.monotonic()
    rsp = H.tcp_request(s, H.pdu_read(0x3C, 4), tid=1)     # overlaps 0x3d
    assert time.monotonic() - t0 >= 0.3
    assert H.regs_of(rsp) == [H.bank_value(1, 0x3C + k) for k in range(4)]
    # replies stay in request order behind a delayed one
    s.sendall(H.mbap(2, 1, H.pdu_read(0x30, 1)) +
              H.mbap(3, 1, H.pdu_read(0x50, 1)) +
              H.mbap(4, 2, H.pdu_read(0x30, 1)))
    assert [H.tcp_recv_frame(s)[0] for _ in range(3)] == [2, 3, 4]
    assert srv.stats()["tcp"]["faults"] == 2


def test_delay_holds_only_its_client():
    """A reply delayed for 10 minutes: other clients are served all the
    same (they would hang if the server waited)."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--fault", "delay=600000,addr=0x77"])
    stuck = H.tcp_connect(srv.port)
    h.on_close(stuck.close)
    stuck.sendall(H.mbap(1, 1, H.pdu_read(0x77, 1)))
    assert H.wait_until(lambda: srv.stats()["tcp"]["faults"] == 1)
    other = H.tcp_connect(srv.port)
    for k in range(200):
        rsp = H.tcp_request(other, H.pdu_read(k % 0x70, 1), unit=2, tid=k)
        assert H.regs_of(rsp) == [H.bank_value(2, k % 0x70)]


def test_delay_rtu():
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True,
                     args=["--fault", "delay=400,transport=rtu"])
    fd = H.open_serial(srv.link)
    h.on_close(lambda: os.close(fd))
    t0 = time.monotonic()
    rsp = H.rtu_request(fd, 1, H.pdu_read(0, 2), timeout=5)
    assert time.monotonic() - t0 >= 0.4
    assert H.crc_ok(rsp) and H.regs_of(rsp[1:-2]) == [H.bank_value(1, 0),
                                                      H.bank_value(1, 1)]


def test_noreply():
    h = H.harness()
    srv = H.MbServer(h, EXE, rtu=True,
                     args=["--fault", "noreply,slave=1,addr=0x130-0x13f"])
    s = H.tcp_connect(srv.port)
    s.sendall(H.mbap(1, 1, H.pdu_read(0x13F, 2)))
    assert tcp_quiet(s), "noreply got a reply"
    rsp = H.tcp_request(s, H.pdu_read(0x140, 1), tid=2)    # outside: served
    assert H.regs_of(rsp) == [H.bank_value(1, 0x140)]
    rsp = H.tcp_request(s, H.pdu_read(0x130, 1), unit=2, tid=3)  # slave 2
    assert H.regs_of(rsp) == [H.bank_value(2, 0x130)]
    # a lost write is not applied
    s.sendall(H.mbap(4, 1, H.pdu_write1(0x135, 99)))
    assert tcp_quiet(s)
    assert srv.command("get 1 0x135") == "ok %d" % H.bank_value(1, 0x135)
    # the same on RTU
    fd = H.open_serial(srv.link)
    h.on_close(lambda: os.close(fd))
    os.write(fd, H.rtu_frame(1, H.pdu_write1(0x131, 5)))
    assert H.silence(fd)
    assert srv.command("get 1 0x131") == "ok %d" % H.bank_value(1, 0x131)
    rsp = H.rtu_request(fd, 1, H.pdu_read(0x100, 1))
    assert H.crc_ok(rsp)


def answered_tids(seed, n=200):
    """Start a server with noreply p=0.5, pipeline n requests, return the
    set of transaction ids that got replies."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--fault", "noreply,p=0.5",
                                   "--seed", str(seed)])
    s = H.tcp_connect(srv.port)
    s.sendall(b"".join(H.mbap(k, 1, H.pdu_read(0, 1)) for k in range(n)))
    assert H.wait_until(lambda: srv.stats()["tcp"]["requests"] == n)
    replies = srv.stats()["tcp"]["replies"]
    tids = {H.tcp_recv_frame(s)[0] for _ in range(replies)}
    assert tcp_quiet(s, 0.3)
    h.close()
    return tids


def test_noreply_probability_is_seeded():
    a = answered_tids(7)
    b = answered_tids(7)
    c = answered_tids(8)
    assert a == b, "same seed, different faults"
    assert a != c, "different seeds, same faults"
    assert 0 < len(a) < 200 and 0 < len(c) < 200, (len(a), len(c))


def test_busy():
    h = H.harness()
    srv = H.MbServer(h, EXE, rtu=True, args=["--fault", "busy,slave=2"])
    s = H.tcp_connect(srv.port)
    assert H.tcp_request(s, H.pdu_read(0, 1), unit=2) == bytes([0x83, 0x06])
    assert H.tcp_request(s, H.pdu_write1(0x100, 1), unit=2) == bytes(
        [0x86, 0x06])
    assert srv.command("get 2 0x100") == "ok %d" % H.bank_value(2, 0x100)
    assert H.regs_of(H.tcp_request(s, H.pdu_read(0, 1), unit=1)) == [
        H.bank_value(1, 0)]
    fd = H.open_serial(srv.link)
    h.on_close(lambda: os.close(fd))
    rsp = H.rtu_request(fd, 2, H.pdu_write(0x100, [1, 2]))
    assert rsp == H.rtu_frame(2, bytes([0x90, 0x06])), rsp.hex()


def test_badcrc_rtu_only():
    h = H.harness()
    srv = H.MbServer(h, EXE, rtu=True, args=["--fault", "badcrc,slave=2"])
    fd = H.open_serial(srv.link)
    h.on_close(lambda: os.close(fd))
    rsp = H.rtu_request(fd, 2, H.pdu_read(0x10, 3))
    assert len(rsp) == 11 and not H.crc_ok(rsp), rsp.hex()
    assert rsp[:3] == bytes([2, 3, 6])          # the body is intact
    rsp = H.rtu_request(fd, 1, H.pdu_read(0x10, 3))
    assert H.crc_ok(rsp)
    s = H.tcp_connect(srv.port)                 # TCP has no CRC to spoil
    rsp = H.tcp_request(s, H.pdu_read(0x10, 3), unit=2)
    assert H.regs_of(rsp) == [H.bank_value(2, 0x10 + k) for k in range(3)]


def test_faults_at_run_time():
    """The API scenarios use: add, remove one, clear, per transport."""
    h = H.harness()
    srv = H.MbServer(h, EXE, rtu=True)
    s = H.tcp_connect(srv.port)
    fd = H.open_serial(srv.link)
    h.on_close(lambda: os.close(fd))

    def tcp_ok():
        return H.tcp_request(s, H.pdu_read(0x10, 1))[0] == 3

    def rtu_ok():
        return H.crc_ok(H.rtu_request(fd, 1, H.pdu_read(0x10, 1)))

    assert tcp_ok() and rtu_ok()
    busy = int(srv.command("fault busy,addr=0x10,transport=tcp").split()[1])
    bad = int(srv.command("fault badcrc").split()[1])
    assert not tcp_ok() and not rtu_ok()
    srv.command("unfault %d" % busy)
    assert tcp_ok() and not rtu_ok()
    srv.command("fault busy")
    srv.command("clear")
    assert tcp_ok() and rtu_ok()
    srv.proc.send("unfault %d" % bad)
    assert srv.proc.readline().startswith("error")
    srv.proc.send("fault busy,p=3")
    ans = srv.proc.readline()
    assert ans.startswith("error: p=3: probability"), ans


if __name__ == "__main__":
    H.main(globals())
