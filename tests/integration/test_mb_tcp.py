"""Modbus TCP: MBAP framing per client, pipelining, and clients that must
not hurt the others (a stalled half frame, a flood, garbage), 100 at
once, half-close, port errors. Usage: test_mb_tcp.py MB_TEST_SERVER"""

import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"


def poll_on(s, n, unit=1, addr=0x10, count=4):
    """n sequential requests on socket s; asserts every reply."""
    for k in range(n):
        a = (addr + k) % 0x100
        rsp = H.tcp_request(s, H.pdu_read(a, count), unit=unit,
                            tid=k & 0xFFFF)
        assert H.regs_of(rsp) == [H.bank_value(unit, a + j)
                                  for j in range(count)], (k, rsp.hex())
    return n


def poll(port, n, unit=1, addr=0x10, count=4):
    """n sequential requests on a new connection."""
    s = H.tcp_connect(port)
    try:
        return poll_on(s, n, unit, addr, count)
    finally:
        s.close()


def test_pipelined_requests_in_one_write():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    s = H.tcp_connect(srv.port)
    frames = b"".join(H.mbap(1000 + k, 1 + k % 3, H.pdu_read(k, 2))
                      for k in range(60))
    # and a write in the middle, read back right after it
    frames += H.mbap(2000, 2, H.pdu_write1(0x110, 77))
    frames += H.mbap(2001, 2, H.pdu_read(0x110, 1))
    s.sendall(frames)
    for k in range(60):
        tid, unit, pdu = H.tcp_recv_frame(s)
        assert (tid, unit) == (1000 + k, 1 + k % 3)
        assert H.regs_of(pdu) == [H.bank_value(unit, k),
                                  H.bank_value(unit, k + 1)]
    assert H.tcp_recv_frame(s) == (2000, 2, H.pdu_write1(0x110, 77))
    tid, unit, pdu = H.tcp_recv_frame(s)
    assert tid == 2001 and H.regs_of(pdu) == [77]
    # a frame split across writes, byte by byte
    for b in H.mbap(3000, 1, H.pdu_read(5, 1)):
        s.send(bytes([b]))
    tid, unit, pdu = H.tcp_recv_frame(s)
    assert tid == 3000 and H.regs_of(pdu) == [H.bank_value(1, 5)]


def test_stalled_half_frame_does_not_delay_others():
    h = H.harness()
    # no frame deadline here: the stalled clients must survive the polls
    srv = H.MbServer(h, EXE, args=["--frame-timeout", "0"])
    stalled = H.tcp_connect(srv.port)
    frame = H.mbap(7, 1, H.pdu_read(0, 3))
    stalled.sendall(frame[:5])              # inside the MBAP header
    big = H.tcp_connect(srv.port)           # claims a long PDU, sends half
    big.sendall(H.mbap(8, 1, H.pdu_write(0x100, list(range(100))))[:120])
    # a poller at full rate: every request answered, correctly
    assert poll(srv.port, 2000) == 2000
    # the stalled clients were kept waiting, not broken
    stalled.sendall(frame[5:])
    tid, unit, pdu = H.tcp_recv_frame(stalled)
    assert tid == 7 and H.regs_of(pdu) == [H.bank_value(1, k)
                                           for k in range(3)]
    assert srv.stats()["clients"] == 2


def test_hundred_concurrent_clients():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    errors = []
    done = []
    socks = [H.tcp_connect(srv.port) for _ in range(100)]   # all at once
    for s in socks:
        h.on_close(s.close)
    assert H.wait_until(lambda: srv.stats()["clients"] == 100)

    def client(k):
        try:
            done.append(poll_on(socks[k], 50, unit=1 + k % 3, addr=k))
        except Exception as e:     # reported below
            errors.append("client %d: %r" % (k, e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert sum(done) == 100 * 50


def test_garbage_closes_only_that_client():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    good = H.tcp_connect(srv.port)
    rng = random.Random(31)
    bad_heads = [
        struct.pack(">HHHB", 1, 1, 6, 1),        # protocol id 1
        struct.pack(">HHHB", 1, 0, 0, 1),        # length 0
        struct.pack(">HHHB", 1, 0, 1, 1),        # length 1: no PDU
        struct.pack(">HHHB", 1, 0, 255, 1),      # longer than any ADU
        struct.pack(">HHHB", 1, 0, 0xFFFF, 1),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        bytes(rng.randrange(256) for _ in range(4000)),
    ]
    for k, junk in enumerate(bad_heads):
        s = H.tcp_connect(srv.port)
        # a good request first: served; then the junk: closed
        rsp = H.tcp_request(s, H.pdu_read(1, 1), tid=k)
        assert H.regs_of(rsp) == [H.bank_value(1, 1)]
        s.sendall(junk)
        assert H.peer_closed(s), "junk %d did not close" % k
        s.close()
        rsp = H.tcp_request(good, H.pdu_read(2, 1), tid=k)
        assert H.regs_of(rsp) == [H.bank_value(1, 2)]
    srv.proc.wait_stderr(r"closing client 127\.0\.0\.1:\d+: not Modbus TCP")


def test_flood_does_not_starve_others():
    """A client sends 100000 requests without reading a reply (and with a
    tiny receive buffer): TCP pushes back on it alone; another client
    polls meanwhile; then the flooder reads every reply, in order."""
    h = H.harness()
    srv = H.MbServer(h, EXE)
    flood = socket.socket()
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    flood.settimeout(120)
    flood.connect(("127.0.0.1", srv.port))
    h.on_close(flood.close)
    n = 100000
    data = b"".join(H.mbap(k & 0xFFFF, 1, H.pdu_read(k % 0x100, 2))
                    for k in range(n))
    sender = threading.Thread(target=flood.sendall, args=(data,))
    sender.start()
    assert poll(srv.port, 500) == 500
    rsp = H.recv_exact(flood, 13 * n)
    assert len(rsp) == 13 * n
    for k in range(n):
        tid, proto, length, unit, fc, nbytes, r0, r1 = struct.unpack_from(
            ">HHHBBBHH", rsp, 13 * k)
        a = k % 0x100
        assert (tid, proto, length, unit, fc, nbytes) == (
            k & 0xFFFF, 0, 7, 1, 3, 4), k
        assert (r0, r1) == (H.bank_value(1, a), H.bank_value(1, a + 1)), k
    sender.join(60)
    assert not sender.is_alive()


def test_half_close_still_answered():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    s = H.tcp_connect(srv.port)
    s.sendall(b"".join(H.mbap(k, 1, H.pdu_read(k, 1)) for k in range(3)) +
              H.mbap(9, 1, H.pdu_read(0, 1))[:4])     # and a partial one
    s.shutdown(socket.SHUT_WR)
    for k in range(3):
        tid, unit, pdu = H.tcp_recv_frame(s)
        assert tid == k and H.regs_of(pdu) == [H.bank_value(1, k)]
    assert H.tcp_recv_frame(s) is None      # then closed
    assert H.wait_until(lambda: srv.stats()["clients"] == 0)


def test_reset_mid_reply_is_harmless():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    for _ in range(20):
        s = H.tcp_connect(srv.port)
        s.sendall(b"".join(H.mbap(k, 1, H.pdu_read(0, 125))
                           for k in range(30)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()                                   # RST
    assert poll(srv.port, 10) == 10
    assert H.wait_until(lambda: srv.stats()["clients"] == 0)


def test_port_in_use_is_reported():
    h = H.harness()
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    h.on_close(taken.close)
    port = taken.getsockname()[1]
    r = subprocess.run([EXE, "--tcp", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3, r
    assert "127.0.0.1:%d" % port in r.stderr, r.stderr
    assert "Address already in use" in r.stderr, r.stderr
    r = subprocess.run([EXE, "--tcp", "192.0.2.1:%d" % port],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3 and "192.0.2.1" in r.stderr, r


class Slowloris:
    """n clients that each send half a frame, then a byte a second, and
    connect again whenever they are closed; on a thread until stop()."""

    def __init__(self, port, n, frame):
        self.port, self.n, self.frame = port, n, frame
        self.closed = 0                 # times the server closed one
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _open(self):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        return [s, len(self.frame) // 2, False]

    def _run(self):
        import select
        socks = [self._open() for _ in range(self.n)]
        last = 0.0
        while not self._stop.is_set():
            tick = time.monotonic() - last >= 1.0
            if tick:
                last = time.monotonic()
            r, _, _ = select.select([c[0] for c in socks], [], [], 0.05)
            for k, c in enumerate(socks):
                s, sent, begun = c
                dead = False
                if s in r:
                    try:
                        dead = s.recv(64) == b""
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        dead = True
                if not dead and (tick or not begun):
                    try:
                        # half a frame at first, then a byte at a time
                        end = sent if not begun else sent + 1
                        s.send(self.frame[:end] if not begun
                               else self.frame[sent:end])
                        c[1], c[2] = end, True
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        dead = True
                if dead:
                    s.close()
                    self.closed += 1
                    socks[k] = self._open()
        for c in socks:
            c[0].close()

    def stop(self):
        self._stop.set()
        self._t.join(10)


def test_slowloris_clients_cannot_lock_out_a_poller():
    """100 clients trickling frames at a server with 64 slots: they are
    closed at the frame deadline and evicted for newcomers, and a client
    polling at full rate meanwhile gets every answer."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--max-clients", "64"])
    # a frame that claims 200 bytes of PDU: it never completes at a byte
    # a second within the test
    frame = H.mbap(1, 1, H.pdu_write(0x100, list(range(98))))
    attack = Slowloris(srv.port, 100, frame)
    h.on_close(attack.stop)
    assert H.wait_until(lambda: srv.stats()["clients"] == 64)
    Client = H.pymodbus_tcp_client()
    c = Client("127.0.0.1", port=srv.port, timeout=2, retries=0)
    h.on_close(c.close)
    polls = 0
    t_end = time.monotonic() + 4.0
    while time.monotonic() < t_end:
        a = polls % 0x100
        rr = c.read_holding_registers(a, 4, slave=1)
        assert not rr.isError(), (polls, rr)
        assert rr.registers == [H.bank_value(1, a + j) for j in range(4)]
        polls += 1
    attack.stop()
    assert polls > 0
    # the attack was real: newcomers took the slots of the idlest (with
    # 100 attackers for 64 slots they evict one another before their
    # frame deadline; test_frame_deadline covers that one)
    assert "client slots taken" in srv.proc.stderr()
    assert attack.closed >= 100, attack.closed


def test_frame_deadline():
    """A frame begun and not finished within --frame-timeout closes its
    client; one that keeps completing frames is never closed."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--frame-timeout", "0.5"])
    half = H.tcp_connect(srv.port)
    h.on_close(half.close)
    half.sendall(H.mbap(1, 1, H.pdu_read(0, 1))[:9])
    assert H.peer_closed(half, timeout=10), "a stalled frame was kept"
    srv.proc.wait_stderr(r"closed client 127\.0\.0\.1:\d+: a frame "
                         r"incomplete for 0.5 s \(9 bytes\)")
    busy = H.tcp_connect(srv.port)
    h.on_close(busy.close)
    assert poll_on(busy, 3000) == 3000
    assert srv.stats()["clients"] == 1


def test_rtu_over_tcp_with_pymodbus():
    """RTU frames (address, PDU, CRC; no MBAP) on their own TCP port,
    answered as the serial line answers them, read and written by
    pymodbus's RTU framer over TCP."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--rtu-tcp", "127.0.0.1:0",
                                   "--slaves", "1,2"])
    Client = H.pymodbus_tcp_client()
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    c = Client("127.0.0.1", port=srv.rtu_tcp_port, framer=ModbusRtuFramer,
               timeout=1, retries=0)
    h.on_close(c.close)
    for slave in (1, 2):
        rr = c.read_holding_registers(0x20, 125, slave=slave)
        assert not rr.isError(), rr
        assert rr.registers == [H.bank_value(slave, 0x20 + k)
                                for k in range(125)]
    assert not c.write_register(0x120, 4321, slave=2).isError()
    assert srv.command("get 2 0x120") == "ok 4321"
    assert not c.write_registers(0x130, [7, 8, 9], slave=1).isError()
    assert c.read_holding_registers(0x130, 3, slave=1).registers == [7, 8, 9]
    rr = c.read_holding_registers(0x1FF, 2, slave=1)     # past the bank
    assert rr.isError() and rr.exception_code == 2, rr
    c.close()

    # on the wire: silence for a bad CRC, an absent slave and a
    # broadcast (which is applied); a function without a fixed layout is
    # framed by its CRC and answered with exception 01
    s = H.tcp_connect(srv.rtu_tcp_port)
    h.on_close(s.close)
    s.settimeout(0.5)

    def quiet():
        try:
            return s.recv(256) == b"never"
        except socket.timeout:
            return True

    frame = H.rtu_frame(1, H.pdu_read(0, 1))
    s.sendall(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert quiet(), "a bad CRC was answered"
    s.sendall(H.rtu_frame(9, H.pdu_read(0, 1)))
    assert quiet(), "an absent slave answered"
    s.sendall(H.rtu_frame(0, H.pdu_write1(0x140, 55)))
    assert quiet(), "a broadcast was answered"
    assert srv.command("get 1 0x140") == "ok 55"
    assert srv.command("get 2 0x140") == "ok 55"
    s.sendall(H.rtu_frame(1, b"\x41\x01\x02"))
    rsp = s.recv(256)
    assert rsp == H.rtu_frame(1, b"\xc1\x01"), rsp.hex()
    s.sendall(H.rtu_frame(2, H.pdu_read(5, 1)))
    rsp = s.recv(256)
    assert rsp == H.rtu_frame(2, b"\x03\x02" + struct.pack(
        ">H", H.bank_value(2, 5))), rsp.hex()
    st = srv.stats()["rtutcp"]
    assert st["bad_frames"] == 1 and st["ignored"] == 1, st
    assert st["broadcasts"] == 1, st

    # the same stall protection as Modbus TCP: half a frame is closed
    half = H.tcp_connect(srv.rtu_tcp_port)
    h.on_close(half.close)
    half.sendall(H.rtu_frame(1, H.pdu_write(0x100, [1, 2, 3]))[:6])
    assert H.peer_closed(half, timeout=10), "a stalled frame was kept"



def test_rtu_over_tcp_resyncs_after_noise():
    """A stray byte or a partial frame on RTU over TCP costs at most the
    request it hit: the framer drops noise until a CRC-valid frame starts
    (as a master's RTU framer does), so the frames after it are answered
    on the same connection and the noise counts as one bad frame."""
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--rtu-tcp", "127.0.0.1:0",
                                   "--slaves", "1"])
    req = H.rtu_frame(1, H.pdu_read(0x30, 2))
    want = H.rtu_frame(1, b"\x03\x04" + struct.pack(
        ">HH", H.bank_value(1, 0x30), H.bank_value(1, 0x31)))

    def answers(s, n):
        """Replies read from s until n are in or it goes quiet."""
        got, buf = 0, b""
        s.settimeout(2)
        while got < n:
            try:
                chunk = s.recv(256)
            except socket.timeout:
                break
            assert chunk, "the connection was closed"
            buf += chunk
            while len(buf) >= len(want):
                assert buf[:len(want)] == want, buf.hex()
                buf, got = buf[len(want):], got + 1
        return got

    for noise in (b"\xff", b"\x01\x03\x00"):
        before = srv.stats()["rtutcp"]["bad_frames"]
        # one request at a time after the noise
        s = H.tcp_connect(srv.rtu_tcp_port)
        h.on_close(s.close)
        s.sendall(noise)
        got = 0
        for _ in range(5):
            s.sendall(req)
            got += answers(s, 1)
        assert got >= 4, (noise, got)
        # pipelined: noise and five requests in one write
        s.sendall(noise + req * 5)
        got = answers(s, 5)
        assert got >= 4, (noise, got)
        # still open and in step
        s.sendall(req)
        assert answers(s, 1) == 1, noise
        bad = srv.stats()["rtutcp"]["bad_frames"] - before
        assert 1 <= bad <= 4, (noise, bad)
        s.close()


if __name__ == "__main__":
    H.main(globals())
