"""Modbus requests and their answers, over TCP and RTU: reads, writes,
exceptions for bad addresses, functions, counts and values, and the TCP
unit-id rules. Usage: test_mb_requests.py MB_TEST_SERVER"""

import os
import struct
import sys

import harness as H

EXE = sys.argv[1] if len(sys.argv) > 1 else "build-b/tests/integration/mb_test_server"

# (name, pdu, expected exception or None)
BAD = [
    ("read past the bank", H.pdu_read(0x01FF, 2), 2),
    ("read far away", H.pdu_read(0x8000, 1), 2),
    ("read wraps 0xffff", H.pdu_read(0xFFFF, 2), 2),
    ("read count 0", H.pdu_read(0, 0), 3),
    ("read count 126", H.pdu_read(0, 126), 3),
    ("write read-only", H.pdu_write1(0x0030, 1), 2),
    ("write past the bank", H.pdu_write1(0x0200, 1), 2),
    ("write bad value", H.pdu_write1(0x0100, 0xFFFF), 3),
    ("write multiple bad value", H.pdu_write(0x0100, [1, 0xFFFF]), 3),
    ("write multiple count 0", struct.pack(">BHHB", 16, 0x100, 0, 0), 3),
    ("write multiple count 124",
     struct.pack(">BHHB", 16, 0x100, 124, 248) + b"\0" * 8, 3),
    ("write multiple byte count wrong",
     struct.pack(">BHHB", 16, 0x100, 2, 3) + b"\0\1\0", 3),
    ("write multiple short data",
     struct.pack(">BHHB", 16, 0x100, 2, 4) + b"\0\1", 3),
    ("read with extra byte", H.pdu_read(0, 1) + b"\0", 3),
    ("read too short", b"\x03\x00\x00\x00", 3),
    ("fc01 read coils", struct.pack(">BHH", 1, 0, 1), 1),
    ("fc02 read inputs", struct.pack(">BHH", 2, 0, 1), 1),
    ("fc04 read input registers", struct.pack(">BHH", 4, 0, 1), 1),
    ("fc05 write coil", struct.pack(">BHH", 5, 0, 0xFF00), 1),
    ("fc0f write coils", struct.pack(">BHHBB", 15, 0, 1, 1, 1), 1),
    ("fc11 report slave id", b"\x11", 1),
    ("fc17 read/write", struct.pack(">BHHHHB", 23, 0, 1, 0x100, 1, 2) +
     b"\0\1", 1),
    ("fc2b device id", b"\x2b\x0e\x01\x00", 1),
    ("fc7f unknown", b"\x7f", 1),
    # codes with bit 7 set are exception codes, never requests: exception
    # 01 with the code as it came (0x83 | 0x80 is 0x83, not 0x03)
    ("fc80", b"\x80", 1),
    ("fc83 looks like a read", b"\x83\x00\x00\x00\x01", 1),
    ("fc90 looks like a write", b"\x90" + H.pdu_write(0x0100, [1])[1:], 1),
    ("fcff", b"\xff\x00", 1),
]


def check_bad(ask):
    """ask(pdu) -> reply PDU; every bad request gets its exception, with
    the function code echoed with bit 7 set, and nothing is written."""
    for name, pdu, ex in BAD:
        rsp = ask(pdu)
        assert len(rsp) == 2, "%s: reply %s" % (name, rsp.hex())
        assert rsp[0] == (pdu[0] | 0x80), "%s: reply %s" % (name, rsp.hex())
        assert rsp[1] == ex, "%s: exception %d, expected %d" % (
            name, rsp[1], ex)


def check_good(ask, slave):
    rsp = ask(H.pdu_read(0, 125))
    assert H.regs_of(rsp) == [H.bank_value(slave, a) for a in range(125)]
    rsp = ask(H.pdu_read(0x01FF, 1))
    assert H.regs_of(rsp) == [H.bank_value(slave, 0x1FF)]
    # FC06 echoes the request; FC16 echoes address and count
    assert ask(H.pdu_write1(0x0100, 0xBEEF)) == H.pdu_write1(0x0100, 0xBEEF)
    vals = list(range(1000, 1123))
    assert ask(H.pdu_write(0x0101, vals)) == struct.pack(">BHH", 16, 0x101,
                                                          123)
    rsp = ask(H.pdu_read(0x0100, 124))
    assert H.regs_of(rsp) == [0xBEEF] + vals
    # a refused multiple write changes nothing
    ask(H.pdu_write(0x0100, [7, 0xFFFF]))
    assert H.regs_of(ask(H.pdu_read(0x0100, 1))) == [0xBEEF]


def test_tcp_reads_writes_and_exceptions():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    s = H.tcp_connect(srv.port)
    tid = [0]

    def ask(pdu, unit=2):
        tid[0] = (tid[0] + 1) & 0xFFFF
        return H.tcp_request(s, pdu, unit=unit, tid=tid[0])

    check_good(ask, 2)
    check_bad(ask)
    # the bank of slave 2 was written, slave 3's was not
    assert srv.command("get 2 0x100") == "ok %d" % 0xBEEF
    assert srv.command("get 3 0x100") == "ok %d" % H.bank_value(3, 0x100)


def test_tcp_unit_ids():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--slaves", "5,9"])
    s = H.tcp_connect(srv.port)
    # 0 and 255: the meter with the lowest address, reply echoes the unit
    for unit in (0, 255):
        rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=unit, tid=unit + 1)
        assert H.regs_of(rsp) == [H.bank_value(5, 0x10)]
    rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=9, tid=7)
    assert H.regs_of(rsp) == [H.bank_value(9, 0x10)]
    # a unit no meter answers, or a reserved one: 0x0B
    for unit in (1, 6, 247, 248, 254):
        rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=unit, tid=unit)
        assert rsp == bytes([0x83, 0x0B]), "unit %d: %s" % (unit, rsp.hex())
    # addresses change at run time
    srv.command("slave add 3")
    srv.command("slave del 9")
    rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=3, tid=11)
    assert H.regs_of(rsp) == [H.bank_value(3, 0x10)]
    rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=0, tid=12)
    assert H.regs_of(rsp) == [H.bank_value(3, 0x10)]
    rsp = H.tcp_request(s, H.pdu_read(0x10, 1), unit=9, tid=13)
    assert rsp == bytes([0x83, 0x0B])


def test_tcp_no_meter_at_all():
    h = H.harness()
    srv = H.MbServer(h, EXE, args=["--slaves", "4"])
    srv.command("slave del 4")
    s = H.tcp_connect(srv.port)
    for unit in (0, 4, 255):
        rsp = H.tcp_request(s, H.pdu_read(0, 1), unit=unit, tid=unit)
        assert rsp == bytes([0x83, 0x0B])


def test_rtu_reads_writes_and_exceptions():
    h = H.harness()
    srv = H.MbServer(h, EXE, tcp=False, rtu=True, args=["--no-pace"])
    fd = H.open_serial(srv.link, 9600, "E")
    h.on_close(lambda: os.close(fd))

    def ask(pdu, slave=3):
        rsp = H.rtu_request(fd, slave, pdu)
        assert H.crc_ok(rsp), "reply %s has a bad CRC" % rsp.hex()
        assert rsp[0] == slave
        return rsp[1:-2]

    check_good(ask, 3)
    check_bad(ask)


def test_pymodbus_tcp():
    h = H.harness()
    srv = H.MbServer(h, EXE)
    client_cls = H.pymodbus_tcp_client()
    c = client_cls("127.0.0.1", port=srv.port, timeout=5)
    assert c.connect()
    h.on_close(c.close)
    rr = c.read_holding_registers(0x30, 10, slave=1)
    assert not rr.isError(), rr
    assert rr.registers == [H.bank_value(1, 0x30 + k) for k in range(10)]
    # pymodbus's default unit is 0: the first meter
    rr = c.read_holding_registers(0x31, 1)
    assert rr.registers == [H.bank_value(1, 0x31)]
    wr = c.write_registers(0x120, [1, 2, 3], slave=2)
    assert not wr.isError(), wr
    rr = c.read_holding_registers(0x120, 3, slave=2)
    assert rr.registers == [1, 2, 3]
    rr = c.read_holding_registers(0x300, 1, slave=1)
    assert rr.isError() and rr.exception_code == 2
    rr = c.read_holding_registers(0, 1, slave=42)
    assert rr.isError() and rr.exception_code == 0x0B


if __name__ == "__main__":
    H.main(globals())
