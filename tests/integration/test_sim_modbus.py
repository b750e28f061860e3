"""The meter process over Modbus, with real clients: mbpoll over the pty
at 9600 8E1 and over TCP, pymodbus over every manual address, exceptions,
a stalled client beside a busy one, 100 clients, a fleet, and settings
written over Modbus. Usage: test_sim_modbus.py KPM31C_SIM"""

import math
import os
import re
import struct
import socket
import subprocess
import sys
import threading
import time

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

LOAD = "U=230,I=5,PF=0.95"


def mbpoll(*args):
    r = subprocess.run(["mbpoll", "-1", "-o", "2"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30)
    vals = {int(m.group(1)): float(m.group(2)) for m in
            re.finditer(r"^\[(\d+)\]:\s+(\S+)", r.stdout, re.M)}
    return r.returncode, vals, r.stdout + r.stderr


def check_uip(vals, base):
    u, i, p = vals[base], vals[base + 2], vals[base + 4]
    assert abs(u - 230) < 0.05 and abs(i - 5) < 0.005, vals
    assert abs(p - 230 * 5 * 0.95) < 1.0, vals


def test_mbpoll_rtu_9600_8e1_and_tcp():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, rtu=True)
    # the README's commands: floats high word first (-B), 0-based (-0)
    rc, vals, out = mbpoll("-m", "rtu", "-b", 9600, "-d", 8, "-P", "even",
                           "-s", 1, "-a", 1, "-0", "-r", 0x30, "-c", 3,
                           "-t", "4:float", "-B", m.link)
    assert rc == 0, out
    check_uip(vals, 0x30)
    rc, vals, out = mbpoll("-m", "tcp", "-p", m.port, "-a", 1, "-r", 49,
                           "-c", 3, "-t", "4:float", "-B", "127.0.0.1")
    assert rc == 0, out
    check_uip(vals, 49)


def test_pymodbus_every_manual_address_hangs_together():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "60", "--start",
              "2026-03-10T09:59:00")
    Client = H.pymodbus_tcp_client()
    c = Client("127.0.0.1", port=m.port)
    assert c.connect()

    def values():
        out = {}
        for addr in S.manual_addresses():
            r = c.read_holding_registers(addr, 2, slave=1)
            assert not r.isError(), (hex(addr), r)
            out[addr] = H_float(r.registers)
        return out

    a = values()
    time.sleep(2.5)     # 150 virtual seconds
    b = values()
    c.close()
    u, i, p, q, s, pf, f = (b[x] for x in (0x30, 0x32, 0x34, 0x36, 0x38,
                                          0x3A, 0x3C))
    assert abs(p - u * i * pf) < 0.002 * s, (u, i, p, pf)
    assert abs(s * s - p * p - q * q) < 0.002 * s * s, (p, q, s)
    assert abs(f - 50) < 0.01
    for v in (a, b):
        # the four rates sum to the totals, active and reactive
        assert abs(sum(v[x] for x in (0x8C, 0x8E, 0x90, 0x92)) - v[0x80]) < 1e-3
        assert abs(sum(v[x] for x in (0x94, 0x96, 0x98, 0x9A)) - v[0x86]) < 1e-3
        assert abs(v[0x82] + v[0x84] - v[0x80]) < 1e-3
        assert abs(v[0x88] + v[0x8A] - v[0x86]) < 1e-3
    # energy grows with time, by P x t, and crossed 10:00 into peak (r2)
    assert b[0x80] > a[0x80] and b[0x86] > a[0x86]
    assert b[0x8E] > 0 and b[0x8C] > 0, b
    dt_h = (b[0x80] - a[0x80]) / (p / 1000)
    assert 0.02 < dt_h < 0.08, dt_h


def H_float(regs):
    import struct
    return struct.unpack(">f", struct.pack(">HH", regs[0], regs[1]))[0]


def test_exceptions_from_the_meter():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD)
    with H.tcp_connect(m.port) as s:
        def exc(pdu, unit=1):
            return H.exception_of(H.tcp_request(s, pdu, unit=unit))
        assert exc(H.pdu_read(0x0040, 2)) == 2        # a hole in the map
        assert exc(H.pdu_read(0x0200, 2)) == 2        # past the manual's map
        assert exc(H.pdu_read(0x0030, 0)) == 3        # bad count
        assert exc(H.pdu_read(0x0030, 126)) == 3      # too many
        assert exc(bytes([0x04, 0, 0x30, 0, 2])) == 1  # input registers: no
        assert exc(bytes([0x2B, 0x0E, 1, 0])) == 1    # device id: no
        assert exc(H.pdu_write1(0x0030, 1)) == 2      # measurements are RO
        assert exc(H.pdu_write1(0x1100, 0)) == 3      # slave address 0: bad
        assert exc(H.pdu_write1(0x1101, 19200 & 0xFFFF)) == 3  # baud
        assert exc(H.pdu_read(0x30, 2), unit=9) == 0x0B  # no meter 9
        # and the meter still answers afterwards
        assert exc(H.pdu_read(0x30, 2)) is None


def test_rtu_over_tcp_with_pymodbus():
    """--rtu-tcp: RTU frames on TCP (a serial-to-Ethernet gateway's way),
    read with pymodbus's RTU framer; a Modbus TCP client there is not
    answered, and the Modbus TCP port does not take RTU frames."""
    h = H.harness()
    port = H.free_port()
    m = S.Sim(h, "--load", LOAD, "--rtu-tcp", "127.0.0.1:%d" % port)
    Client = H.pymodbus_tcp_client()
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    c = Client("127.0.0.1", port=port, framer=ModbusRtuFramer, timeout=2,
               retries=0)
    h.on_close(c.close)
    assert H.wait_until(c.connect)
    rr = c.read_holding_registers(0x30, 6, slave=1)
    assert not rr.isError(), rr
    u, i, p = (struct.unpack(">f", struct.pack(">HH", *rr.registers[k:k + 2]))[0]
               for k in (0, 2, 4))
    check_uip({0: u, 2: i, 4: p}, 0)
    # the Modbus TCP port closes an RTU-over-TCP client, saying where to go
    with H.tcp_connect(m.port) as s:
        s.sendall(H.rtu_frame(1, H.pdu_read(0x30, 2)))
        assert H.peer_closed(s)


def test_rtu_on_a_serial_device_through_socat():
    """--rtu DEVICE serves an existing tty: here one end of a socat pty
    pair, with pymodbus's serial client on the other end (8N1, two stop
    bits: a pty cannot keep even parity, see docs/modbus.md)."""
    h = H.harness()
    a, b = h.path("ttyA"), h.path("ttyB")
    h.start(["socat", "pty,raw,echo=0,link=" + a,
             "pty,raw,echo=0,link=" + b], name="socat", stdin=False)
    assert H.wait_until(lambda: os.path.exists(a) and os.path.exists(b))
    dev = os.path.realpath(a)
    m = S.Sim(h, "--load", LOAD, "--rtu", dev, "--parity", "N",
              "--baud", "4800")
    assert os.path.realpath(a) == dev, "the device was replaced"
    # one server per line: a second meter process on the same device is
    # refused (two would answer every request twice)
    r = S.run(h, "--no-state", "--tcp", "off", "--rtu", dev,
              "--until", "1h", "--speed", "max", timeout=60)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert dev in r.stderr and "another process serves it" in r.stderr, \
        r.stderr
    from pymodbus.client import ModbusSerialClient
    c = ModbusSerialClient(b, baudrate=4800, parity="N", stopbits=2,
                           timeout=2, retries=0)
    h.on_close(c.close)
    assert c.connect()
    rr = c.read_holding_registers(0x30, 6, slave=1)
    assert not rr.isError(), rr
    u, i, p = (struct.unpack(">f", struct.pack(">HH", *rr.registers[k:k + 2]))[0]
               for k in (0, 2, 4))
    check_uip({0: u, 2: i, 4: p}, 0)
    rr = c.read_holding_registers(0x80, 124, slave=1)   # the largest block
    assert not rr.isError() and len(rr.registers) == 124, rr
    c.close()
    assert m.stop() == 0
    assert os.path.realpath(a) == dev, "the device was removed at exit"
    # socat's own link (link=...) is served the same way, never replaced
    m = S.Sim(h, "--load", LOAD, "--rtu", a, "--parity", "N",
              "--baud", "4800")
    assert os.path.islink(a) and os.path.realpath(a) == dev, \
        "socat's link was replaced"
    c = ModbusSerialClient(b, baudrate=4800, parity="N", stopbits=2,
                           timeout=2, retries=0)
    assert c.connect()
    rr = c.read_holding_registers(0x30, 2, slave=1)
    assert not rr.isError(), rr
    c.close()
    assert m.stop() == 0
    assert os.path.islink(a) and os.path.realpath(a) == dev, \
        "socat's link was removed at exit"


def test_line_speed_per_meter_and_pyserial_at_the_meters_baud():
    """A fleet on one line: a meter set (over Modbus) to 4800 does not
    answer a client at 9600 and does answer one at 4800; pymodbus's serial
    client (pyserial) at the meter's 9600 reads the others. Parity cannot
    be kept by a pty, so pyserial opens it at 8N1 (docs/modbus.md)."""
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--meters", "3", rtu=True)
    with H.tcp_connect(m.port) as s:
        rsp = H.tcp_request(s, H.pdu_write1(0x1101, 4800), unit=2)
        assert H.exception_of(rsp) is None, rsp.hex()
    fd = H.open_serial(m.link, 9600, "E")
    try:
        for slave in (1, 3):
            rsp = H.rtu_request(fd, slave, H.pdu_read(0x30, 2))
            assert H.crc_ok(rsp) and rsp[:3] == bytes([slave, 3, 4]), rsp
        os.write(fd, H.rtu_frame(2, H.pdu_read(0x30, 2)))
        assert H.silence(fd), "a meter at 4800 answered at 9600"
    finally:
        os.close(fd)
    fd = H.open_serial(m.link, 4800, "E")
    try:
        rsp = H.rtu_request(fd, 2, H.pdu_read(0x30, 2))
        assert H.crc_ok(rsp) and rsp[:3] == bytes([2, 3, 4]), rsp
        os.write(fd, H.rtu_frame(1, H.pdu_read(0x30, 2)))
        assert H.silence(fd), "a meter at 9600 answered at 4800"
    finally:
        os.close(fd)
    from pymodbus.client import ModbusSerialClient
    c = ModbusSerialClient(m.link, baudrate=9600, parity="N", stopbits=1,
                           timeout=2, retries=0)
    h.on_close(c.close)
    assert c.connect()
    for slave in (1, 3):
        rr = c.read_holding_registers(0x80, 124, slave=slave)
        assert not rr.isError() and len(rr.registers) == 124, rr
    c.close()


def test_stalled_half_frame_client_does_not_delay_others():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD)
    stalled = H.tcp_connect(m.port)
    stalled.sendall(H.mbap(1, 1, H.pdu_read(0x30, 2))[:5])  # half a header
    garbage = H.tcp_connect(m.port)
    garbage.sendall(b"\xff" * 64)
    done = 0
    with H.tcp_connect(m.port) as s:
        for k in range(2000):
            pdu = H.tcp_request(s, H.pdu_read(0x30, 6), tid=k & 0xFFFF)
            assert H.exception_of(pdu) is None
            done += 1
    assert done == 2000
    stalled.close()
    garbage.close()


def test_hundred_concurrent_clients():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--tcp-max-clients", "128")
    socks = [H.tcp_connect(m.port) for _ in range(100)]
    errors = []

    def poll(s, n):
        try:
            for k in range(20):
                pdu = H.tcp_request(s, H.pdu_read(0x30, 14), tid=n * 100 + k)
                assert H.exception_of(pdu) is None
                assert len(H.regs_of(pdu)) == 14
        except Exception as e:      # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=poll, args=(s, n))
               for n, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in socks:
        s.close()
    assert not errors, errors[:5]


def test_fleet_of_three():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--meters", 3, "--slave", 5)
    for unit in (5, 6, 7):
        u = m.float(0x30, unit=unit)
        assert abs(u - 230) < 0.05, (unit, u, m.floats(0x30, 7, unit=unit))
        sn = m.regs(0x1002, 2, unit=unit)
        assert sn[0] << 16 | sn[1], sn
    with H.tcp_connect(m.port) as s:
        pdu = H.tcp_request(s, H.pdu_read(0x30, 2), unit=8)
        assert H.exception_of(pdu) == 0x0B
    serials = {tuple(m.regs(0x1002, 2, unit=u)) for u in (5, 6, 7)}
    assert len(serials) == 3, serials


def test_slave_address_written_over_modbus_takes_effect_and_persists():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD)
    with H.tcp_connect(m.port) as s:
        pdu = H.tcp_request(s, H.pdu_write1(0x1100, 17), unit=1)
        assert H.exception_of(pdu) is None
        assert H.exception_of(H.tcp_request(s, H.pdu_read(0x30, 2), unit=1)) == 0x0B
    u = m.float(0x30, unit=17)
    assert abs(u - 230) < 0.05, u
    assert m.stop() == 0
    m2 = S.Sim(h, "--load", LOAD, state=m.state)
    assert abs(m2.float(0x30, unit=17) - 230) < 0.05


def test_word_order_written_over_modbus():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD)
    abcd = m.regs(0x30, 2)
    with H.tcp_connect(m.port) as s:
        assert H.exception_of(H.tcp_request(s, H.pdu_write1(0x1103, 1))) is None
    cdab = m.regs(0x30, 2)
    assert cdab == [abcd[1], abcd[0]], (abcd, cdab)


if __name__ == "__main__":
    H.main(globals())
