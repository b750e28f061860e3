"""The meter's face in a real terminal: kpm31c-sim in tmux (a private
server on a socket in the test's temp dir), keys sent with send-keys, the
screen read back with capture-pane. The glass is read like a person reads
it: each 7-segment digit decoded from the segments drawn on the screen.

Sees the voltage on the glass, changes page, holds the left key for the
password page, enters 6666, changes the slave address, and a Modbus client
then reaches the meter at the new address, also after a restart (the
setting persists). The demo's poller fills the Modbus panel. Also: resizing, the terminal given back on q, SIGTERM,
SIGHUP and SIGABRT, and the fall-back to headless without a terminal.

No timed assertions: every check polls the screen until what it expects
appears, with a generous deadline. Usage: test_tui.py KPM31C_SIM"""

import os
import signal
import subprocess
import sys
import time

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOAD = "U=230,I=5,PF=0.95"
DEADLINE = 30.0

# core/segment.c's font, bit 0 = a .. bit 6 = g
A, B, C, D, E, F, G = (1 << k for k in range(7))
FONT = {
    " ": 0, "0": A | B | C | D | E | F, "1": B | C, "2": A | B | D | E | G,
    "3": A | B | C | D | G, "4": B | C | F | G, "5": A | C | D | F | G,
    "6": A | C | D | E | F | G, "7": A | B | C, "8": 0x7F,
    "9": A | B | C | D | F | G, "-": G, "A": A | B | C | E | F | G,
    "b": C | D | E | F | G, "C": A | D | E | F, "d": B | C | D | E | G,
    "E": A | D | E | F | G, "F": A | E | F | G, "I": E | F,
    "n": C | E | G, "o": C | D | E | G, "P": A | B | E | F | G,
    "q": A | B | C | F | G, "r": E | G, "t": D | E | F | G,
    "U": B | C | D | E | F, "u": C | D | E, "g": A | B | C | D | F | G,
}
GLYPH = {}
for ch, bits in FONT.items():
    GLYPH.setdefault(bits, ch)      # digits first: 5 not S, 9 not g

# where each segment is drawn in a digit's cell (tui_glass.h)
SEGMENT_CELLS = [(A, 0, 2), (F, 1, 0), (B, 1, 5), (G, 3, 2), (E, 4, 0),
                 (C, 4, 5), (D, 6, 2)]
ICONS = ["T1", "T2", "T3", "T4", "TOTAL", "IMP", "EXP", "LAST", "CLOCK",
         "SET", "RELAY OFF", "COM", "4G", "ALARM"]


class Glass:
    """What the glass shows in one screen capture."""

    def __init__(self, lines):
        self.text = None
        self.unit = ""
        self.icons = ""
        self.minus = False
        top = next((k for k, l in enumerate(lines) if "KPM31C" in l), None)
        if top is None or top + 10 >= len(lines):
            return
        x0 = lines[top].find(" KPM31C") - 2     # the box's corner
        rows = [l.ljust(x0 + 80) for l in lines[top + 1:top + 10]]
        ox = x0 + 2

        def lit(r, c):
            return rows[r][c] != " "

        text = ""
        for k in range(8):
            cx = ox + 4 + 8 * k
            bits = sum(b for b, r, c in SEGMENT_CELLS if lit(r, cx + c))
            text += GLYPH.get(bits, "?")
            if lit(6, cx + 6):
                text += "."
        self.text = text
        self.minus = lit(3, ox + 1)
        self.unit = rows[6][ox + 68:ox + 73].strip()
        self.icons = rows[8][ox:ox + 72]

    def __repr__(self):
        return "[%s%s] %s | %s" % ("-" if self.minus else "", self.text,
                                   self.unit, " ".join(self.icons.split()))


class Tmux:
    """A private tmux server running one command in a pane."""

    def __init__(self, h, argv, cols=132, rows=45, env=()):
        self.h = h
        self.sock = h.path("tmux.sock")
        conf = h.path("tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\n"
                    "set -g default-terminal screen\n"
                    "set -g history-limit 100\n")
        # the pane's shell waits for the meter process and keeps its exit
        # status (tmux itself sometimes reaps a dead pane's process late)
        self.status_path = h.path("tui.status")
        cmd = " ".join(["env", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"] +
                       list(env) + ["'%s'" % a for a in argv] +
                       ["2>%s;" % h.path("tui.stderr"), "echo", "$?", ">",
                        self.status_path])
        self.pid = None
        h.on_close(self.close)
        self.tmux("-f", conf, "new-session", "-d", "-x", str(cols), "-y",
                  str(rows), cmd)
        shell = self.query("#{pane_pid}")

        def child():
            r = subprocess.run(["ps", "-o", "pid=", "--ppid", shell],
                               capture_output=True, text=True)
            return r.stdout.split()[0] if r.stdout.split() else None
        pid = H.wait_until(child, timeout=DEADLINE)
        assert pid, "kpm31c-sim did not start in tmux:\n%s" % self.stderr()
        self.pid = int(pid)

    def tmux(self, *args):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args),
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, "tmux %s: %s" % (args, r.stderr)
        return r.stdout

    def query(self, fmt):
        return self.tmux("display-message", "-p", "-t", "0", fmt).strip()

    def lines(self):
        return self.tmux("capture-pane", "-p", "-t", "0").split("\n")

    def glass(self):
        return Glass(self.lines())

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "0", *keys)

    def exit_status(self):
        """The meter process's exit status, 128 + signal if killed by one;
        None while it runs."""
        try:
            with open(self.status_path) as f:
                text = f.read().strip()
        except OSError:
            return None
        return int(text) if text else None

    def stderr(self):
        try:
            with open(self.h.path("tui.stderr")) as f:
                return f.read()
        except OSError:
            return ""

    def wait(self, pred, what, timeout=DEADLINE):
        last = [None]

        def probe():
            g = self.glass()
            last[0] = g
            return pred(g)
        if H.wait_until(probe, timeout=timeout, step=0.05):
            return last[0]
        raise AssertionError("the screen never showed %s; it shows %r:\n%s"
                             "\nstderr:\n%s" % (what, last[0],
                                                "\n".join(self.lines()),
                                                self.stderr()))

    def wait_text(self, text, unit=None, icon=None, timeout=DEADLINE):
        return self.wait(lambda g: g.text == text and
                         (unit is None or g.unit == unit) and
                         (icon is None or icon in g.icons.split()),
                         "%r %s %s" % (text, unit or "", icon or ""),
                         timeout)

    def wait_dead(self, timeout=DEADLINE):
        """The exit status once the process is gone (128 + signal)."""
        got = H.wait_until(lambda: self.exit_status() is not None,
                           timeout=timeout, step=0.05)
        if not got:
            ps = subprocess.run(["ps", "-o", "pid,stat,wchan:32,cmd", "-p",
                                 str(self.pid)], capture_output=True,
                                text=True).stdout
            raise AssertionError("the meter process did not exit:\n%s\n%s"
                                 "\nstderr:\n%s" % (ps, "\n".join(
                                     self.lines()), self.stderr()))
        return self.exit_status()

    def close(self):
        if self.pid and self.exit_status() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       capture_output=True, timeout=20)


def start(h, *args, **kw):
    port = H.free_port()
    argv = [S.exe(), "--tcp", "127.0.0.1:%d" % port, "--state",
            h.path("meter.state"), "--load", LOAD] + [str(a) for a in args]
    t = Tmux(h, argv, **kw)
    t.port = port
    return t


def read_u(port, unit):
    """U at a unit id: a float, or the exception code as an int."""
    with H.tcp_connect(port) as s:
        pdu = H.tcp_request(s, H.pdu_read(0x30, 2), unit=unit)
    exc = H.exception_of(pdu)
    if exc is not None:
        return exc
    r = H.regs_of(pdu)
    import struct
    return struct.unpack(">f", struct.pack(">HH", r[0], r[1]))[0]


def type_digit(t, times, expect):
    for _ in range(times):
        t.keys("j")
    t.wait_text(expect)


def open_setup(t, enter):
    """Hold <- 3 s (L), type 6666, confirm with key `enter`: Addr."""
    t.keys("L")
    t.wait_text("CodE0000", icon="SET")
    type_digit(t, 6, "CodE6000")
    for n, text in ((1, "CodE6600"), (2, "CodE6660"), (3, "CodE6666")):
        t.keys("h")
        type_digit(t, 6, text)
    t.keys(enter)
    t.wait_text("Addr 001", icon="SET")


def test_voltage_page_password_slave_address_and_modbus():
    h = H.harness()
    t = start(h)
    g = t.wait_text("U   230.0", unit="V")
    assert not g.minus, g

    # pages down and up
    t.keys("j")
    t.wait_text("I   5.000", unit="A")
    t.keys("Down")
    t.wait_text("P   1.093", unit="kW")
    t.keys("Left")
    t.wait_text("I   5.000", unit="A")

    # energy pages, the clock, back
    t.keys("Enter")
    t.wait(lambda g: "TOTAL" in g.icons and g.unit == "kWh",
           "the total energy page")
    t.keys("Enter")
    t.wait(lambda g: "CLOCK" in g.icons, "the clock")
    t.keys("Enter")
    t.wait_text("U   230.0", unit="V")

    # hold <- 3 s (L), the password page, 6666
    open_setup(t, "Enter")

    # edit: the third digit, 1 -> 5
    t.keys("Enter")
    t.wait_text("Addr  01")         # the first digit blinks
    t.keys("h")
    t.wait_text("Addr 0 1")
    t.keys("h")
    t.wait_text("Addr 00 ")
    type_digit(t, 4, "Addr 005")
    t.keys("Enter")

    # the new address answers, the old one does not
    ok = H.wait_until(lambda: read_u(t.port, 5) not in (0x0B, 0x02),
                      timeout=DEADLINE)
    assert ok, t.stderr()
    assert abs(read_u(t.port, 5) - 230.0) < 0.1
    assert read_u(t.port, 1) == 0x0B

    # the traffic panel and the glass's communication icon saw them
    def shown(text):
        return lambda: text in "\n".join(t.lines())
    assert H.wait_until(shown("tcp #1   03 read  0x0030 x2     -> ex 0B"),
                        timeout=DEADLINE), "\n".join(t.lines())
    assert H.wait_until(shown("tcp #5   03 read  0x0030 x2     -> ok"),
                        timeout=DEADLINE), "\n".join(t.lines())

    def com():
        read_u(t.port, 5)
        return "COM" in t.glass().icons.split()
    assert H.wait_until(com, timeout=DEADLINE), "\n".join(t.lines())

    # q: the state is saved, the terminal given back
    t.keys("q")
    assert t.wait_dead() == 0, t.stderr()
    assert t.query("#{alternate_on}") == "0"
    assert "KPM31C" not in "\n".join(t.lines())
    assert "q: saving state and stopping" in t.stderr(), t.stderr()

    # the address persisted: a headless restart answers at 5
    m = S.Sim(h, "--load", LOAD, state=h.path("meter.state"))
    assert abs(m.float(0x30, unit=5) - 230.0) < 0.1
    assert m.regs(0x1100, 1, unit=5) == [5]


def test_q_without_a_state_file_says_no_saving():
    h = H.harness()
    t = start(h, "--no-state")
    t.wait_text("U   230.0", unit="V")
    t.keys("q")
    assert t.wait_dead() == 0, t.stderr()
    assert "q: stopping" in t.stderr(), t.stderr()
    assert "saving" not in t.stderr(), t.stderr()
    assert not os.path.exists(h.path("meter.state"))


def test_held_left_key_opens_the_password_page():
    h = H.harness()
    t = start(h)
    t.wait_text("U   230.0", unit="V")
    # a held key: the terminal repeats it, every 50 ms here, until the
    # password page shows (3 s of holding; a repeat late by more than
    # 250 ms counts as a release and the hold starts again)
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end and t.glass().text != "CodE0000":
        t.keys("h")
        time.sleep(0.05)
    t.wait_text("CodE0000", icon="SET")


def test_80x24_keeps_the_log_braille_scope_keypad_enter_and_changes():
    """At 80x24 every panel is there (the log too), the scope is drawn in
    Braille dots, keypad Enter confirms like Enter, and a setting changed
    on the keys is logged with what it was and what it became."""
    h = H.harness()
    t = start(h, cols=80, rows=24)
    t.wait_text("U   230.0", unit="V")
    screen = "\n".join(t.lines())
    for panel in ("scope", "Modbus", "MQTT", "log"):
        assert "\u2500 %s" % panel in screen, (panel, screen)
    assert t.lines()[0].startswith(" keys:"), screen     # the caption bar
    assert H.wait_until(lambda: any("\u2801" <= c <= "\u28ff"
                                    for c in "".join(t.lines())),
                        timeout=DEADLINE), screen
    open_setup(t, "KPEnter")
    t.keys("KPEnter")
    t.wait_text("Addr  01")         # editing: the first digit blinks
    t.keys("h")
    t.wait_text("Addr 0 1")
    t.keys("h")
    t.wait_text("Addr 00 ")
    type_digit(t, 1, "Addr 002")
    t.keys("KPEnter")
    line = "meter 31000001: slave 1 -> 2 (keys)"
    assert H.wait_until(lambda: line in "\n".join(t.lines()),
                        timeout=DEADLINE), "\n".join(t.lines())


def test_a_scenario_caption_in_the_caption_bar():
    h = H.harness()
    path = h.path("cap.lua")
    with open(path, "w") as f:
        f.write('setup{ speed = 1 }\nlocal m = meter(1)\n'
                'm:load{ U = 230, I = 5 }\n'
                'caption("The kettle: 2 kW")\nadvance("1h")\n')
    t = Tmux(h, [S.exe(), path], cols=80, rows=24)
    assert H.wait_until(lambda: t.lines()[0].strip() == "The kettle: 2 kW",
                        timeout=DEADLINE), "\n".join(t.lines())
    assert H.wait_until(lambda: "caption: The kettle" in
                        "\n".join(t.lines()), timeout=DEADLINE)


def test_the_demo_s_poller_fills_the_modbus_panel():
    """scenarios/demo.lua as it is shown: its SCADA poller's frames cross
    the real listener and show in the Modbus panel, for every meter."""
    h = H.harness()
    t = Tmux(h, [S.exe(), os.path.join(ROOT, "scenarios", "demo.lua"),
                 "step=2"])
    for slave in (1, 2, 3):
        for frame in ("03 read  0x0030 x14    -> ok",
                      "03 read  0x0080 x12    -> ok"):
            line = "tcp #%d   %s" % (slave, frame)
            assert H.wait_until(lambda: line in "\n".join(t.lines()),
                                timeout=DEADLINE), (line, "\n".join(
                                    t.lines()), t.stderr())
    t.keys("q")
    # stopped before its end: 1 (a leak under ASan would say otherwise)
    assert t.wait_dead() == 1, t.stderr()
    assert "Modbus poller: 6 reads every 2 s from 127.0.0.1:" in \
        t.stderr(), t.stderr()


def test_resize_and_a_small_terminal():
    h = H.harness()
    t = start(h, cols=80, rows=24)
    t.wait_text("U   230.0", unit="V")
    t.tmux("resize-window", "-t", "0", "-x", "60", "-y", "20")
    H.wait_until(lambda: "needs 76x13" in "\n".join(t.lines()),
                 timeout=DEADLINE)
    assert "needs 76x13" in "\n".join(t.lines()), "\n".join(t.lines())
    assert "[U   230.0]" in "\n".join(t.lines())
    t.tmux("resize-window", "-t", "0", "-x", "150", "-y", "50")
    t.wait_text("U   230.0", unit="V")
    H.wait_until(lambda: "scope" in "\n".join(t.lines()), timeout=DEADLINE)
    screen = "\n".join(t.lines())
    assert "scope" in screen and "Modbus" in screen and "log" in screen


def test_terminal_given_back_on_signals():
    for sig, status in ((signal.SIGTERM, 0), (signal.SIGHUP, 0),
                        (signal.SIGABRT, 128 + signal.SIGABRT),
                        (signal.SIGSEGV, 128 + signal.SIGSEGV)):
        h = H.harness()
        t = start(h)
        t.wait_text("U   230.0", unit="V")
        assert t.query("#{alternate_on}") == "1"
        os.kill(t.pid, sig)
        got = t.wait_dead()
        assert t.query("#{alternate_on}") == "0", (sig, t.lines())
        assert got == status, (sig, got, t.stderr())
        if status == 0:
            assert "saving state and stopping" in t.stderr(), t.stderr()
        h.close()


def test_readme_screen_is_true():
    """The README's captured screen is what the program shows now."""
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                          "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    part = text[text.index("## The meter face"):]
    block = part[part.index("```text\n") + 8:]
    want = block[:block.index("```")].rstrip("\n").split("\n")
    assert len(want) == 30, len(want)
    h = H.harness()
    # the README's command; --tcp off only keeps port 1502 free
    t = Tmux(h, [S.exe(), "--no-state", "--start", "2026-03-10T11:45:00",
                 "--speed", "0", "--load", LOAD, "--tcp", "off"],
             cols=116, rows=30)

    def same():
        return [l.rstrip() for l in t.lines()[:30]] == \
            [l.rstrip() for l in want]
    if not H.wait_until(same, timeout=DEADLINE, step=0.1):
        got = [l.rstrip() for l in t.lines()[:30]]
        diff = ["%2d want: %s\n   got:  %s" % (k + 1, w, g)
                for k, (w, g) in enumerate(zip(want, got)) if w != g]
        raise AssertionError("README's screen differs:\n" + "\n".join(diff))


def test_headless_without_a_terminal():
    h = H.harness()
    # stdout is a pipe: headless, and nothing but the log comes out
    r = subprocess.run([S.exe(), "--no-state", "--tcp", "off", "--until",
                        "3s", "--speed", "max"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"", r.stdout[:200]
    assert b"\x1b" not in r.stderr
    # a terminal ncurses cannot drive: headless, said once
    t = start(h, "--until", "3s", env=["TERM=dumb"])
    assert t.wait_dead() == 0
    assert "no terminal UI: TERM is dumb; running headless" in t.stderr()
    h.close()


if __name__ == "__main__":
    H.main(globals())
