"""Shared harness for the integration tests (run with /usr/bin/python3).

What every test needs and must get right:
- free loopback ports and a private temporary directory, never fixed paths;
- processes started, waited for until they say they are ready, and killed
  with everything they started (own process group) even when a test fails
  or meson's timeout sends SIGTERM;
- pty helpers: raw termios with a baud rate and parity, and RTU frames;
- Modbus TCP helpers over raw sockets (MBAP), and pymodbus importable
  (Debian's python3-pymodbus imports pyserial even for TCP).

A test file defines functions named test_*, and ends with
    if __name__ == "__main__":
        harness.main(globals())
which runs them in order and prints TAP (meson: protocol 'tap').
"""

import atexit
import os
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import traceback
import types

# --------------------------------------------------------------------------
# processes and temporary files


class Proc:
    """A started process: stdout lines as they come, stderr to a file."""

    def __init__(self, argv, tmpdir, name, stdin=True, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.err_path = os.path.join(tmpdir, name + ".stderr")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
            start_new_session=True,   # its own group: killpg gets children
        )
        self._buf = b""
        self.lines = []               # every stdout line so far

    def readline(self, timeout=10.0):
        """The next stdout line (without newline), or None at timeout/EOF."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line = line.decode(errors="replace")
        self.lines.append(line)
        return line

    def wait_for(self, pattern, timeout=10.0):
        """Read stdout until a line matches pattern (regex); the match.
        Fails with the process's stderr when it exits or times out."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(
                    "%s: no line matching %r (exit status %s); stderr:\n%s"
                    % (self.name, pattern, self.p.poll(), self.stderr()))
            m = rx.search(line)
            if m:
                return m

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def stderr(self):
        self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_stderr(self, pattern, timeout=10.0):
        """Wait until stderr has a line matching pattern; the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.stderr())
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("%s: stderr never matched %r:\n%s"
                                     % (self.name, pattern, self.stderr()))
            time.sleep(0.05)

    def running(self):
        return self.p.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL, to the whole group; the exit status."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:   # whatever it left behind in its group
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.p.poll() is None:
            self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
        self._err.close()
        return self.p.returncode


class Harness:
    """Owns a temp dir and every process a test starts; cleans up always."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="kpm31c-it-")
        self.procs = []
        self._closers = []
        self._n = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def start(self, argv, name=None, stdin=True, env=None):
        self._n += 1
        name = name or "%s-%d" % (os.path.basename(str(argv[0])), self._n)
        p = Proc(argv, self.tmp, name, stdin=stdin, env=env)
        self.procs.append(p)
        return p

    def on_close(self, fn):
        self._closers.append(fn)

    def close(self):
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:
                pass
        self._closers = []
        for p in self.procs:
            p.stop()
        self.procs = []
        shutil.rmtree(self.tmp, ignore_errors=True)


_live = []


def _cleanup_all(*_):
    while _live:
        _live.pop().close()


def _on_signal(signum, _frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def harness():
    """A new Harness, cleaned up at exit or on SIGTERM even if not closed."""
    h = Harness()
    _live.append(h)
    return h


def missing_packages(root):
    """The packages root/scripts/setup would install now: a test that runs
    scripts/setup (or a script that does) skips when there are any, since
    a test never installs packages."""
    text = open(os.path.join(root, "scripts", "setup")).read()
    body = re.search(r"packages=\((.*?)\n\)", text, re.S).group(1)
    pkgs = shlex.split(body, comments=True)
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Status}\n"]
                       + pkgs, capture_output=True, text=True)
    ok = {line.split()[0] for line in r.stdout.splitlines()
          if line.endswith("install ok installed")}
    return [p for p in pkgs if p not in ok]


def free_port(host="127.0.0.1"):
    """A TCP port free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, step=0.02):
    """Poll pred() until true; its value, or None at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(step)


# --------------------------------------------------------------------------
# the Modbus test server (tests/integration/mb_test_server.c)


class MbServer:
    """mb_test_server started on a free TCP port and/or a pty."""

    def __init__(self, h, exe, tcp=True, rtu=False, args=()):
        argv = [exe]
        argv += ["--tcp", "127.0.0.1:0"] if tcp else ["--tcp", "off"]
        self.link = h.path("ttyKPM%d" % (len(h.procs) + 1)) if rtu else None
        if rtu:
            argv += ["--rtu", self.link]
        argv += list(args)
        self.proc = h.start(argv, name="mb_test_server-%d" % (len(h.procs) + 1))
        self.port = None
        self.rtu_tcp_port = None
        self.pty = None
        while True:
            line = self.proc.readline(10.0)
            if line is None:
                raise AssertionError("mb_test_server did not start (exit %s):"
                                     "\n%s" % (self.proc.p.poll(),
                                               self.proc.stderr()))
            if line.startswith("tcp "):
                self.port = int(line.split()[2])
            elif line.startswith("rtutcp "):
                self.rtu_tcp_port = int(line.split()[2])
            elif line.startswith("rtu "):
                self.pty = line.split()[2]
            elif line == "ready":
                break

    def command(self, line, timeout=10.0):
        """Send a stdin command; its answer line (asserts it is "ok...")."""
        self.proc.send(line)
        ans = self.proc.readline(timeout)
        assert ans is not None and ans.startswith("ok"), \
            "command %r answered %r" % (line, ans)
        return ans

    def stats(self):
        """The counters, as {'rtu': {...}, 'tcp': {...}, ...}."""
        ans = self.command("stats").split()[1:]
        out, cur = {}, None
        for tok in ans:
            if "=" not in tok:
                cur = out.setdefault(tok, {})
            else:
                k, v = tok.split("=")
                (cur if cur is not None else out)[k] = int(v)
                if k == "clients":
                    out["clients"] = int(v)
        return out


def bank_value(slave, addr):
    """The test server's initial register value."""
    return (slave * 0x1000 + addr) & 0xFFFF


# --------------------------------------------------------------------------
# Modbus TCP over raw sockets


def mbap(tid, unit, pdu):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def pdu_read(addr, count):
    return struct.pack(">BHH", 3, addr, count)


def pdu_write1(addr, value):
    return struct.pack(">BHH", 6, addr, value)


def pdu_write(addr, values):
    return struct.pack(">BHHB", 16, addr, len(values), 2 * len(values)) + \
        struct.pack(">%dH" % len(values), *values)


def tcp_connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    """n bytes, or fewer if the peer closed."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def tcp_recv_frame(sock):
    """(tid, unit, pdu) of the next frame; None if the peer closed."""
    head = recv_exact(sock, 7)
    if len(head) < 7:
        return None
    tid, proto, length, unit = struct.unpack(">HHHB", head)
    assert proto == 0, "protocol id %d" % proto
    pdu = recv_exact(sock, length - 1)
    assert len(pdu) == length - 1, "short frame"
    return tid, unit, pdu


def tcp_request(sock, pdu, unit=1, tid=1):
    """Send one request and return the reply PDU (asserts tid and unit)."""
    sock.sendall(mbap(tid, unit, pdu))
    r = tcp_recv_frame(sock)
    assert r is not None, "connection closed instead of a reply"
    assert r[0] == tid and r[1] == unit, "reply %r to tid %d unit %d" % (
        r, tid, unit)
    return r[2]


def peer_closed(sock, timeout=10.0):
    """True when the peer closes (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def regs_of(pdu):
    """Register values of an FC03 reply PDU."""
    assert pdu[0] == 3, "not a read reply: %s" % pdu.hex()
    return list(struct.unpack(">%dH" % (pdu[1] // 2), pdu[2:]))


def exception_of(pdu):
    """The exception code of an exception PDU, or None."""
    return pdu[1] if pdu[0] & 0x80 else None


# --------------------------------------------------------------------------
# Modbus RTU over a pty


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(slave, pdu):
    body = bytes([slave]) + pdu
    return body + struct.pack("<H", crc16(body))


def crc_ok(frame):
    return len(frame) >= 4 and crc16(frame[:-2]) == struct.unpack(
        "<H", frame[-2:])[0]


_BAUD = {1200: termios.B1200, 2400: termios.B2400, 4800: termios.B4800,
         9600: termios.B9600, 19200: termios.B19200}


def open_serial(path, baud=9600, parity="E", flush=True):
    """Open a serial device (our pty) raw at baud/parity, like a master;
    flush: discard whatever waits in its buffers, as most masters do."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    attr = termios.tcgetattr(fd)
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attr
    # cfmakeraw
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK |
               termios.ISTRIP | termios.INLCR | termios.IGNCR |
               termios.ICRNL | termios.IXON)
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON |
               termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.PARODD |
               termios.CSTOPB)
    cflag |= termios.CS8 | termios.CLOCAL | termios.CREAD
    if parity == "E":
        cflag |= termios.PARENB
    elif parity == "O":
        cflag |= termios.PARENB | termios.PARODD
    else:
        cflag |= termios.CSTOPB
    cc[termios.VMIN] = 0
    cc[termios.VTIME] = 0
    speed = _BAUD[baud]
    try:
        termios.tcsetattr(fd, termios.TCSANOW,
                          [iflag, oflag, cflag, lflag, speed, speed, cc])
    except termios.error:
        # Linux ptys drop PARENB, and Python checks that every setting
        # took: the parity is nominal on a pty anyway.
        cflag &= ~(termios.PARENB | termios.PARODD)
        termios.tcsetattr(fd, termios.TCSANOW,
                          [iflag, oflag, cflag, lflag, speed, speed, cc])
    if flush:
        termios.tcflush(fd, termios.TCIOFLUSH)
    return fd


def serial_read(fd, want=None, timeout=2.0, quiet=0.15):
    """Bytes from fd: until want bytes came, or until quiet seconds pass
    with nothing new after something came, or timeout with nothing."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        if want is not None and len(data) >= want:
            return data
        left = deadline - time.monotonic()
        if data:
            left = min(left, quiet) if want is None else left
        if left <= 0:
            return data
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return data
        try:
            chunk = os.read(fd, 512)
        except BlockingIOError:
            continue
        data += chunk


def rtu_reply_length(head):
    """Length of an RTU reply frame from its first 3 bytes (None: unknown
    function, read until quiet)."""
    fc = head[1]
    if fc & 0x80:
        return 5
    if fc == 3:
        return 5 + head[2]
    if fc in (6, 16):
        return 8
    return None


def rtu_read_reply(fd, timeout=2.0):
    """One reply frame, read as far as its own length says (b"" for
    silence); bytes after it are left unread."""
    data = serial_read(fd, want=3, timeout=timeout)
    if len(data) < 3:
        return data + serial_read(fd, timeout=0.2) if data else data
    n = rtu_reply_length(data)
    if n is None:
        return data + serial_read(fd, timeout=0.3)
    return data + serial_read(fd, want=n - len(data), timeout=timeout)


def rtu_request(fd, slave, pdu, timeout=2.0):
    """Send a frame, return the reply frame (b"" for silence)."""
    os.write(fd, rtu_frame(slave, pdu))
    return rtu_read_reply(fd, timeout=timeout)


def silence(fd, seconds=0.6):
    """True when nothing at all arrives for seconds (a frame got no reply).
    A behaviour check: any byte, however late, fails it."""
    return serial_read(fd, timeout=seconds) == b""


# --------------------------------------------------------------------------
# pymodbus 3.0 (Debian's, /usr/bin/python3)


def pymodbus_tcp_client():
    """pymodbus's ModbusTcpClient class. Debian's pymodbus.client imports
    pyserial and serial_asyncio (only recommended packages) even for TCP:
    stand in for them when they are missing; TCP never uses them."""
    for name in ("serial", "serial_asyncio"):
        try:
            __import__(name)
        except ImportError:
            mod = types.ModuleType(name)
            mod.create_serial_connection = None
            sys.modules[name] = mod
    from pymodbus.client import ModbusTcpClient
    return ModbusTcpClient


# --------------------------------------------------------------------------
# a tiny TAP runner


class Skip(Exception):
    """Raised by a test that cannot run here (a tool is missing): TAP's
    "ok N - name # SKIP reason"."""


def main(ns):
    """Run the test_* functions of ns (a module's globals) in order."""
    tests = [(n, f) for n, f in ns.items()
             if n.startswith("test_") and callable(f)]
    only = os.environ.get("TEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for k, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (k, name, e))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (k, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        else:
            print("ok %d - %s (%.2f s)" % (k, name, time.monotonic() - t0))
        finally:
            _cleanup_all()
        sys.stdout.flush()
    sys.exit(1 if failed else 0)
