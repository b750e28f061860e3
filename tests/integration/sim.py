"""The real kpm31c-sim binary under test: started on a free port and/or a
pty in the harness's temp dir, with helpers to read its floats.
Used by the test_sim_*.py files (run with /usr/bin/python3)."""

import json
import os
import re
import struct
import subprocess

import harness as H

EXE = None      # set by each test file from argv


def exe():
    return os.path.abspath(EXE or os.environ.get("KPM31C_SIM",
                                                 "build/sim/kpm31c-sim"))


class Sim:
    """kpm31c-sim serving Modbus TCP on a free port (and RTU when asked).
    Ready once its TCP port answers, or its pty link exists."""

    def __init__(self, h, *args, tcp=True, rtu=False, state=None,
                 name=None):
        self.h = h
        self.port = H.free_port() if tcp else None
        self.link = h.path("ttyKPM%d" % (len(h.procs) + 1)) if rtu else None
        self.state = state or h.path("meter.state")
        argv = [exe(), "--headless"]
        argv += ["--tcp", "127.0.0.1:%d" % self.port] if tcp else ["--tcp", "off"]
        if rtu:
            argv += ["--rtu", self.link]
        if "--no-state" not in args:
            argv += ["--state", self.state]
        argv += [str(a) for a in args]
        self.proc = h.start(argv, name=name, stdin=False)
        ok = H.wait_until(self._ready, timeout=15)
        assert ok, "kpm31c-sim did not start (exit %s):\n%s" % (
            self.proc.p.poll(), self.proc.stderr())

    def _ready(self):
        if not self.proc.running():
            raise AssertionError("kpm31c-sim exited %s:\n%s"
                                 % (self.proc.p.poll(), self.proc.stderr()))
        if self.link and not os.path.exists(self.link):
            return False
        if self.port:
            try:
                with H.tcp_connect(self.port, timeout=1) as s:
                    H.tcp_request(s, H.pdu_read(0x30, 2))
            except (OSError, AssertionError):
                return False
        return True

    def regs(self, addr, count, unit=1):
        return regs(self.port, addr, count, unit)

    def floats(self, addr, n=1, unit=1):
        return floats(self.port, addr, n, unit)

    def float(self, addr, unit=1):
        return floats(self.port, addr, 1, unit)[0]

    def stop(self):
        return self.proc.stop()


def regs(port, addr, count, unit=1):
    """Holding registers over Modbus TCP from any meter on port."""
    with H.tcp_connect(port) as s:
        pdu = H.tcp_request(s, H.pdu_read(addr, count), unit=unit)
    exc = H.exception_of(pdu)
    assert exc is None, "read 0x%04X: exception %s" % (addr, exc)
    return H.regs_of(pdu)


def floats(port, addr, n=1, unit=1):
    r = regs(port, addr, 2 * n, unit)
    return [struct.unpack(">f", struct.pack(">HH", r[2 * k], r[2 * k + 1]))[0]
            for k in range(n)]


def run(h, *args, timeout=300, env=None):
    """Run kpm31c-sim to completion (--until, or a failure); the
    CompletedProcess with text output."""
    argv = [exe(), "--headless"] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          cwd=h.tmp, env=env)


def wait_ready(proc, path, timeout=15):
    """The ready file's JSON once proc has written it (whole: it is
    renamed into place); fails if proc exits first."""
    def loaded():
        if not proc.running():
            raise AssertionError("exited %s:\n%s" % (proc.p.poll(),
                                                    proc.stderr()))
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)
    doc = H.wait_until(loaded, timeout=timeout)
    assert doc, "no ready file %s:\n%s" % (path, proc.stderr())
    return doc


def dump(path):
    with open(path) as f:
        return json.load(f)


def manual_addresses():
    """Every float address of the manual's sections 6.2 and 6.3."""
    return ([0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x70] +
            list(range(0x80, 0x19F, 2)))
