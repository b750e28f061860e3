"""Modbus TCP limits: the maximum number of clients and the idle timeout,
with their log lines. Usage: test_mb_limits.py MB_TEST_SERVER"""

import sys
import time

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"


def served(s, tid=1):
    rsp = H.tcp_request(s, H.pdu_read(0, 1), tid=tid)
    return H.regs_of(rsp) == [H.bank_value(1, 0)]


def test_client_limit_evicts_the_idlest():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--max-clients", "4", "--idle-timeout",
                                   "0"])
    socks = [H.tcp_connect(srv.port) for _ in range(4)]
    for s in socks:
        h.on_close(s.close)
        assert served(s)
    # every slot taken: a 5th client takes the place of the one whose
    # last request is oldest, the first
    extra = H.tcp_connect(srv.port)
    h.on_close(extra.close)
    assert served(extra)
    assert H.peer_closed(socks[0]), "the idlest client was kept"
    srv.proc.wait_stderr(r"all 4 client slots taken: closed "
                         r"127\.0\.0\.1:\d+ \(idle for [0-9.]+ s\) for "
                         r"127\.0\.0\.1:\d+")
    for s in socks[1:]:                   # the others are untouched
        assert served(s, tid=2)
    # a client that never sent a request goes before any that has
    silent = H.tcp_connect(srv.port)
    h.on_close(silent.close)
    assert H.peer_closed(extra)           # now the idlest served one
    assert H.wait_until(lambda: srv.stats()["clients"] == 4)
    newest = H.tcp_connect(srv.port)
    h.on_close(newest.close)
    assert served(newest)
    assert H.peer_closed(silent), "a client without a request was kept"
    for s in socks[1:]:
        assert served(s, tid=3)
    # a burst of evictions is logged once a second, not once each
    for _ in range(30):
        s = H.tcp_connect(srv.port)
        s.close()
    assert srv.proc.stderr().count("client slots taken") < 30


def test_idle_timeout():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--idle-timeout", "1"])
    idle = H.tcp_connect(srv.port)
    half = H.tcp_connect(srv.port)          # trickles a frame, never ends it
    busy = H.tcp_connect(srv.port)
    for s in (idle, half, busy):
        h.on_close(s.close)
    frame = H.mbap(1, 1, H.pdu_read(0, 1))
    # busy polls every 0.2 s for 3 s: never idle, never closed
    t_end = time.monotonic() + 3.0
    k = 0
    while time.monotonic() < t_end:
        assert served(busy, tid=k)
        if k < len(frame) - 1:
            try:
                half.send(frame[k:k + 1])   # a byte is not a whole request
            except OSError:                 # closed already: as it should
                pass
        k += 1
        time.sleep(0.2)
    assert H.peer_closed(idle, timeout=10), "idle client kept"
    assert H.peer_closed(half, timeout=10), "half-frame client kept"
    srv.proc.wait_stderr(r"closing client 127\.0\.0\.1:\d+: idle for 1 s")
    assert served(busy, tid=99)
    assert srv.stats()["clients"] == 1


def test_no_idle_timeout():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--idle-timeout", "0"])
    s = H.tcp_connect(srv.port)
    h.on_close(s.close)
    assert not H.peer_closed(s, timeout=2.5)
    assert served(s)


if __name__ == "__main__":
    H.main(globals())
