"""Modbus RTU on the pty: framing by silence, what gets silence (bad CRC,
another slave, reserved addresses, runts, overlong frames), broadcast,
clients that come and go, line settings at run time, the symlink.
Usage: test_mb_rtu.py MB_TEST_SERVER"""

import os
import struct
import subprocess
import sys
import time

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"


def serve(h, *args):
    """The server on a pty, and a client at its speed (--baud, or 9600)."""
    srv = H.MbServer(h, EXE, tcp=False, rtu=True, args=list(args))
    baud = int(args[args.index("--baud") + 1]) if "--baud" in args else 9600
    fd = H.open_serial(srv.link, baud, "E")
    h.on_close(lambda: os.close(fd))
    return srv, fd


def good(fd, slave=1, addr=0x10):
    rsp = H.rtu_request(fd, slave, H.pdu_read(addr, 2))
    assert H.crc_ok(rsp) and rsp[:3] == bytes([slave, 3, 4]), rsp.hex()
    return H.regs_of(rsp[1:-2])


def test_silence_for_bad_crc_other_slave_reserved_and_runts():
    h = H.harness()
    srv, fd = serve(h, "--slaves", "1,2")
    frame = H.rtu_frame(1, H.pdu_read(0, 1))
    bad = frame[:-1] + bytes([frame[-1] ^ 0x01])
    os.write(fd, bad)
    assert H.silence(fd), "a frame with a bad CRC was answered"
    for slave in (3, 17, 247, 248, 255):
        os.write(fd, H.rtu_frame(slave, H.pdu_read(0, 1)))
        assert H.silence(fd), "slave %d is absent but answered" % slave
    for runt in (b"\x01", b"\x01\x03", b"\x01\x03\x00"):
        os.write(fd, runt)
        assert H.silence(fd), "a %d-byte frame was answered" % len(runt)
    # garbage longer than any frame
    os.write(fd, bytes(range(256)) * 2)
    assert H.silence(fd)
    # and the line still works afterwards
    assert good(fd) == [H.bank_value(1, 0x10), H.bank_value(1, 0x11)]
    st = srv.stats()["rtu"]
    assert st["bad_frames"] == 1 + 3 + 1, st
    assert st["ignored"] == 5, st
    # a bad request for an absent slave is silence too, not an exception
    os.write(fd, H.rtu_frame(9, b"\x01\x00\x00\x00\x01"))
    assert H.silence(fd)


def test_broadcast_applied_without_reply():
    h = H.harness()
    srv, fd = serve(h, "--slaves", "1,2,7")
    os.write(fd, H.rtu_frame(0, H.pdu_write1(0x0150, 4242)))
    assert H.silence(fd), "a broadcast write was answered"
    os.write(fd, H.rtu_frame(0, H.pdu_write(0x0160, [1, 2, 3])))
    assert H.silence(fd)
    for slave in (1, 2, 7):
        assert srv.command("get %d 0x150" % slave) == "ok 4242"
        assert srv.command("get %d 0x162" % slave) == "ok 3"
    # a broadcast read, or a refused broadcast write, is silence as well
    os.write(fd, H.rtu_frame(0, H.pdu_read(0, 1)))
    assert H.silence(fd)
    os.write(fd, H.rtu_frame(0, H.pdu_write1(0x0010, 1)))
    assert H.silence(fd)
    assert srv.stats()["rtu"]["broadcasts"] == 3   # writes delivered


def test_frame_in_pieces_and_back_to_back():
    h = H.harness()
    srv, fd = serve(h, "--no-pace", "--baud", "1200")
    # a frame that arrives in two pieces with no pause is one frame (the
    # 3.5-character gap is 32 ms at 1200 baud)
    # (a test process preempted for 32 ms between the two writes would
    # split it: up to three tries, a framing bug fails all of them)
    frame = H.rtu_frame(1, H.pdu_read(0x20, 3))
    for _ in range(3):
        os.write(fd, frame[:3])
        os.write(fd, frame[3:])
        rsp = H.rtu_read_reply(fd)
        if rsp:
            break
    assert H.regs_of(rsp[1:-2]) == [H.bank_value(1, 0x20 + k)
                                    for k in range(3)]
    # two frames with no silence between them are one bad frame
    os.write(fd, H.rtu_frame(1, H.pdu_read(0, 1)) +
             H.rtu_frame(1, H.pdu_read(1, 1)))
    assert H.silence(fd)
    # many requests in turn, each answered
    for k in range(50):
        assert good(fd, addr=k) == [H.bank_value(1, k), H.bank_value(1, k + 1)]


def test_clients_come_and_go():
    """The pty outlives its clients: close, reopen, still served; a reply
    nobody read is not served to the next client, even one that does not
    flush its input."""
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True, args=["--no-pace"])
    fd = H.open_serial(srv.link, 9600, "E")
    assert good(fd)
    os.write(fd, H.rtu_frame(1, H.pdu_read(0x40, 1)))   # reply never read
    os.close(fd)
    # the server discards it once it has sat unread for a while
    assert H.wait_until(lambda: srv.stats()["rtu"]["dropped"] == 1)
    for k in range(5):
        fd = H.open_serial(srv.link, 9600, "E", flush=False)
        try:
            assert good(fd, addr=0x80 + k) == [H.bank_value(1, 0x80 + k),
                                               H.bank_value(1, 0x81 + k)]
        finally:
            os.close(fd)


def test_reply_comes_byte_by_byte():
    """Paced, a reply is on the line one character at a time: at 1200 baud
    a 125-register reply takes 2.1 s from its first byte to its last, so
    the first read gets the first bytes, not the whole reply (unless this
    process slept through two seconds of the reply)."""
    h = H.harness()
    srv, fd = serve(h, "--baud", "1200")
    os.write(fd, H.rtu_frame(1, H.pdu_read(0, 125)))
    first = H.serial_read(fd, want=1, timeout=5.0)
    assert len(first) >= 1 and first[0] == 1, first.hex()
    assert len(first) < 255, "the whole reply arrived at once"
    rest = H.serial_read(fd, want=255 - len(first), timeout=5.0)
    rsp = first + rest
    assert len(rsp) == 255 and H.crc_ok(rsp), rsp.hex()
    assert H.regs_of(rsp[1:-2]) == [H.bank_value(1, k) for k in range(125)]


def test_next_client_never_reads_a_reply_cut_short():
    """Two clients in turn: the first asks for 125 registers at 1200 baud
    and closes the port after the first bytes of the reply; the second,
    opening without flushing, reads exactly its own reply."""
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True, args=["--baud", "1200"])
    for k in range(3):
        fd = H.open_serial(srv.link, 1200, "E")
        os.write(fd, H.rtu_frame(1, H.pdu_read(0, 125)))
        assert len(H.serial_read(fd, want=1, timeout=5.0)) >= 1
        os.close(fd)
        fd = H.open_serial(srv.link, 1200, "E", flush=False)
        try:
            # nothing of the old reply, even for a client that reads first
            assert H.silence(fd, 0.3), "the old reply reached a new client"
            rsp = H.rtu_request(fd, 1, H.pdu_read(0x30 + k, 2), timeout=5.0)
            assert rsp == H.rtu_frame(1, bytes([3, 4]) + struct.pack(
                ">HH", H.bank_value(1, 0x30 + k), H.bank_value(1, 0x31 + k))), \
                rsp.hex()
            assert H.silence(fd), "bytes after the reply"
        finally:
            os.close(fd)
    assert srv.stats()["rtu"]["dropped"] == 3


def test_each_slave_listens_at_its_own_speed():
    """The line's speed is the client's (its termios on the pty): a slave
    set to another speed hears garbage and stays silent, broadcasts
    included; a slave whose speed changes follows at once."""
    h = H.harness()
    srv, fd = serve(h, "--slaves", "1,2", "--no-pace")
    srv.command("baud 2 4800")
    assert good(fd, slave=1)
    os.write(fd, H.rtu_frame(2, H.pdu_read(0x10, 2)))
    assert H.silence(fd), "a slave at 4800 answered a client at 9600"
    os.write(fd, H.rtu_frame(0, H.pdu_write1(0x150, 99)))
    assert H.silence(fd)
    assert srv.command("get 1 0x150") == "ok 99"
    assert srv.command("get 2 0x150") != "ok 99", "heard at the wrong speed"
    os.close(fd)
    fd = H.open_serial(srv.link, 4800, "E")
    h.on_close(lambda: os.close(fd))
    assert good(fd, slave=2)
    os.write(fd, H.rtu_frame(1, H.pdu_read(0x10, 2)))
    assert H.silence(fd), "a slave at 9600 answered a client at 4800"
    srv.command("baud 1 4800")            # changed mid-run: at once
    assert good(fd, slave=1)
    st = srv.stats()["rtu"]
    assert st["ignored"] == 2, st


def test_any_baud_lets_every_slave_answer():
    h = H.harness()
    srv, fd = serve(h, "--slaves", "1,2", "--no-pace", "--any-baud")
    srv.command("baud 2 4800")
    assert good(fd, slave=1) and good(fd, slave=2)


def test_line_settings_at_run_time():
    h = H.harness()
    srv, fd = serve(h)
    for baud, parity in ((1200, "E"), (2400, "O"), (4800, "N"),
                         (19200, "E"), (9600, "E")):
        srv.command("line %d %s" % (baud, parity))
        fd2 = H.open_serial(srv.link, baud, parity)
        try:
            rsp = H.rtu_request(fd2, 1, H.pdu_read(0, 4), timeout=5.0)
            assert H.regs_of(rsp[1:-2]) == [H.bank_value(1, k)
                                            for k in range(4)], rsp.hex()
        finally:
            os.close(fd2)
    srv.proc.send("line 300 E")
    assert srv.proc.readline().startswith("error")
    srv.proc.send("line 9600 X")
    assert srv.proc.readline().startswith("error")


def test_symlink_rules():
    h = H.harness()
    # a stale symlink (dangling) is replaced, and removed at exit
    link = h.path("ttyStale")
    os.symlink("/dev/pts/999999", link)
    p = h.start([EXE, "--tcp", "off", "--rtu", link])
    m = p.wait_for(r"^rtu (\S+) (\S+)$")
    assert os.readlink(link) == m.group(2)
    assert p.stop() == 0
    assert not os.path.lexists(link), "symlink left behind"

    # a regular file is never clobbered
    plain = h.path("ttyFile")
    with open(plain, "w") as f:
        f.write("precious\n")
    r = subprocess.run([EXE, "--tcp", "off", "--rtu", plain],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3, r
    assert "not a symlink" in r.stderr and plain in r.stderr, r.stderr
    assert open(plain).read() == "precious\n"

    # nor a symlink to something that is not a pty
    other = h.path("ttyOther")
    os.symlink(plain, other)
    r = subprocess.run([EXE, "--tcp", "off", "--rtu", other],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3 and "not a pseudo-terminal" in r.stderr, r
    assert os.readlink(other) == plain

    # a directory that does not exist: a clear error naming the path
    missing = h.path("no/such/dir/tty")
    r = subprocess.run([EXE, "--tcp", "off", "--rtu", missing],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3 and missing in r.stderr, r


def test_symlink_removed_on_sigint_and_not_when_not_ours():
    h = H.harness()
    link = h.path("ttyA")
    p = h.start([EXE, "--tcp", "off", "--rtu", link])
    p.wait_for("^ready$")
    # someone else re-points the link: at exit the server leaves it alone
    os.unlink(link)
    os.symlink("/dev/null", link)
    os.killpg(p.p.pid, 2)
    p.p.wait(10)
    assert os.readlink(link) == "/dev/null"


def test_pacing_does_not_change_answers():
    h = H.harness()
    srv, fd = serve(h)   # paced at 9600
    for count in (1, 60, 125):
        rsp = H.rtu_request(fd, 2 if count > 1 else 1,
                            H.pdu_read(0, count), timeout=5.0)
        assert len(rsp) == 5 + 2 * count and H.crc_ok(rsp), rsp.hex()


if __name__ == "__main__":
    H.main(globals())
