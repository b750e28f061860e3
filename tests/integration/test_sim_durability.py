"""What a meter keeps whatever happens to the process: an acknowledged
setting survives a SIGKILL right after its reply; files are written
through temporary files that never follow a symlink and never outlive a
restart; outputs that would overwrite the state, the scenario or another
output are refused at start; one process per state file and per RTU link;
a loop of SIGKILLs never loses a setting or makes energy go backwards.
Usage: test_sim_durability.py KPM31C_SIM"""

import os
import random
import signal
import struct
import sys
import threading
import time
import zlib

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

LOAD = "U=230,I=10,PF=1"
SLAVE, WORD_ORDER, PASSWORD, RELAY = 0x1100, 0x1103, 0x1105, 0x1131


def write(m, addr, values, unit=1):
    """A write over Modbus TCP; returns once its reply is in."""
    with H.tcp_connect(m.port) as s:
        pdu = H.tcp_request(s, H.pdu_write(addr, values), unit=unit)
    assert H.exception_of(pdu) is None, (hex(addr), values, pdu)


def kill(m):
    os.killpg(m.proc.p.pid, signal.SIGKILL)
    m.proc.p.wait()


def temp_files(h):
    return [f for f in os.listdir(h.tmp) if ".tmp" in f]


def test_settings_acknowledged_over_tcp_survive_sigkill():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "0", "--checkpoint", "86400")
    write(m, WORD_ORDER, [1])
    write(m, RELAY, [0])
    write(m, SLAVE, [9])            # the last reply: then at once, SIGKILL
    kill(m)
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    assert m.regs(SLAVE, 1, unit=9) == [9]
    assert m.regs(WORD_ORDER, 1, unit=9) == [1]
    assert m.regs(RELAY, 1, unit=9) == [0]
    assert m.stop() == 0


def test_setting_acknowledged_over_rtu_survives_sigkill():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "0", "--checkpoint", "86400",
              tcp=False, rtu=True)
    fd = H.open_serial(m.link)
    try:
        reply = H.rtu_request(fd, 1, H.pdu_write(PASSWORD, [4321]))
        assert reply and reply[1] == 0x10, reply
        kill(m)
    finally:
        os.close(fd)
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    assert m.regs(PASSWORD, 1) == [4321]


def test_state_symlink_is_followed_and_kept():
    h = H.harness()
    os.mkdir(h.path("real"))
    target = h.path("real/meter.state")
    link = h.path("meter.state")
    os.symlink("real/meter.state", link)
    r = S.run(h, "--tcp", "off", "--state", link, "--load", LOAD,
              "--start", "2026-01-01", "--until", "1h", "--speed", "max")
    assert r.returncode == 0, r.stderr
    assert os.path.islink(link) and os.path.getsize(target) > 0
    r = S.run(h, "--tcp", "off", "--state", link, "--load", LOAD,
              "--until", "1h", "--speed", "max", "--dump", h.path("d.json"))
    assert r.returncode == 0, r.stderr
    assert S.dump(h.path("d.json"))["registers"]["0080"] > 4.5
    assert os.path.islink(link)
    assert not temp_files(h) and os.listdir(h.path("real")) == ["meter.state"]


def test_a_symlink_at_the_temporary_name_is_never_followed():
    h = H.harness()
    victim = h.path("victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    m = S.Sim(h, "--load", LOAD, "--speed", "0", "--checkpoint", "86400")
    planted = "%s.tmp.%d" % (m.state, m.proc.p.pid)
    os.symlink(victim, planted)
    write(m, PASSWORD, [1234])      # a save, through another name
    assert m.stop() == 0
    assert open(victim).read() == "precious\n"
    assert os.path.islink(planted)
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    assert m.regs(PASSWORD, 1) == [1234]
    # the restart removed what a stopped process left (the link itself)
    assert not os.path.lexists(planted) and temp_files(h) == []
    assert open(victim).read() == "precious\n"


def test_dump_through_a_symlink_replaces_its_target():
    h = H.harness()
    os.symlink("out-real.json", h.path("out.json"))
    with open(h.path("out.json.tmp"), "w") as f:
        f.write("someone else's\n")
    r = S.run(h, "--no-state", "--tcp", "off", "--until", "10",
              "--speed", "max", "--dump", h.path("out.json"))
    assert r.returncode == 0, r.stderr
    assert os.path.islink(h.path("out.json"))
    assert S.dump(h.path("out-real.json"))["slave"] == 1
    assert open(h.path("out.json.tmp")).read() == "someone else's\n"


def refused_at_start(h, args, words, code=2):
    r = S.run(h, "--tcp", "off", "--speed", "max", "--until", "365d", *args)
    assert r.returncode == code, (args, r.returncode, r.stderr)
    for w in words:
        assert w in r.stderr, (args, w, r.stderr)
    assert "running" not in r.stderr, r.stderr      # before any time passed
    return r


def test_outputs_that_would_overwrite_something_are_refused_at_start():
    h = H.harness()
    state = h.path("s.state")
    scenario = h.path("sc.lua")
    with open(scenario, "w") as f:
        f.write("local m = meter(1)\nrun(60)\n")
    refused_at_start(h, ["--state", state, "--dump", state],
                     ["--dump", "--state", "same file"])
    os.symlink("s.state", h.path("alias"))
    refused_at_start(h, ["--state", state, "--dump", h.path("alias")],
                     ["--dump", "alias", "--state"])
    refused_at_start(h, ["--junit", scenario, scenario],
                     ["--junit", "the scenario", "sc.lua"])
    refused_at_start(h, ["--no-state", "--dump", h.path("x"), "--junit",
                         h.path("x"), scenario], ["--junit", "--dump"])
    assert open(scenario).read().startswith("local m")
    # not a regular file: a device, a link to one, a directory
    refused_at_start(h, ["--no-state", "--dump", "/dev/null"],
                     ["--dump /dev/null: is a device, not a regular file"])
    os.symlink("/dev/null", h.path("out"))
    refused_at_start(h, ["--no-state", "--dump", h.path("out")],
                     ["leads to /dev/null, which is a device, not a regular "
                      "file"])
    assert os.path.islink(h.path("out"))
    refused_at_start(h, ["--no-state", "--dump", h.tmp], ["--dump"])
    # a directory that is not there, or cannot be written
    refused_at_start(h, ["--junit", "/nonexistent/x.xml", scenario],
                     ["--junit /nonexistent/x.xml", "does not exist"])
    refused_at_start(h, ["--state", h.path("nowhere/s.state")],
                     ["--state", "nowhere", "does not exist"])
    unwritable = "/proc/self" if os.geteuid() == 0 else h.path("ro")
    if unwritable != "/proc/self":
        os.mkdir(unwritable, 0o555)
    refused_at_start(h, ["--state", unwritable + "/s.state"],
                     ["--state", "cannot write in directory"])
    assert not os.path.exists(state) and temp_files(h) == []


def test_dump_to_stdout():
    h = H.harness()
    r = S.run(h, "--no-state", "--tcp", "off", "--until", "10",
              "--speed", "max", "--dump", "-")
    assert r.returncode == 0, r.stderr
    assert '"slave": 1' in r.stdout, r.stdout


def test_a_failing_save_is_said_once_retried_and_exits_3():
    h = H.harness()
    os.mkdir(h.path("d"))
    m = S.Sim(h, "--load", LOAD, "--speed", "100", "--checkpoint", "0.1",
              state=h.path("d/meter.state"))
    os.rename(h.path("d"), h.path("gone"))      # saves fail from now on
    m.proc.wait_stderr("retrying")
    # a change the state file cannot keep is not acknowledged: exception
    # 04 (server device failure), as a meter whose EEPROM write failed
    with H.tcp_connect(m.port) as s:
        pdu = H.tcp_request(s, H.pdu_write(PASSWORD, [2222]), unit=1)
    assert H.exception_of(pdu) == 4, pdu.hex()
    assert m.regs(PASSWORD, 1) == [2222]        # installed all the same
    os.rename(h.path("gone"), h.path("d"))
    m.proc.wait_stderr("saved again")
    write(m, PASSWORD, [2222])                  # kept now: acknowledged
    assert m.stop() == 3
    err = open(m.proc.err_path, errors="replace").read()
    assert err.count("retrying") == 1, err
    assert "save(s) failed during the run" in err, err
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=h.path("d/meter.state"))
    assert m.regs(PASSWORD, 1) == [2222]


def test_one_process_per_state_file_and_per_rtu_link():
    h = H.harness()
    first = S.Sim(h, "--load", LOAD, "--speed", "0", rtu=True)
    pid = first.proc.p.pid
    r = S.run(h, "--tcp", "off", "--state", first.state, "--until", "10")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert first.state in r.stderr and "process %d" % pid in r.stderr, \
        r.stderr
    r = S.run(h, "--tcp", "off", "--no-state", "--rtu", first.link,
              "--until", "10")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "--rtu %s" % first.link in r.stderr and \
        "process %d" % pid in r.stderr, r.stderr
    # the first one still has its link and answers on it
    assert os.path.islink(first.link)
    fd = H.open_serial(first.link)
    try:
        reply = H.rtu_request(fd, 1, H.pdu_read(0x30, 2))
        assert reply and reply[1] == 0x03, reply
    finally:
        os.close(fd)
    assert first.stop() == 0
    # once it is gone, its state file and its link are free
    second = S.Sim(h, "--load", LOAD, "--speed", "0", rtu=True,
                   state=first.state)
    assert second.stop() == 0


# ---- crafted state files: CRC-valid, a field out of range


def state_sections(data):
    """[(offset of the payload, type, length)] of a state file."""
    n = struct.unpack_from("<I", data, 12)[0]
    off, out = 16, []
    for _ in range(n):
        t, _, ln = struct.unpack_from("<HHI", data, off)
        out.append((off + 8, t, ln))
        off += 8 + ln
    return out


def reseal(data):
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))


def make_state(h):
    path = h.path("meter.state")
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--start", "2026-01-01", "--until", "1h", "--speed", "max")
    assert r.returncode == 0, r.stderr
    return path, bytearray(open(path, "rb").read())


def refused(h, path, words):
    before = open(path, "rb").read()
    r = S.run(h, "--tcp", "off", "--state", path, "--until", "10",
              "--speed", "max")
    assert r.returncode == 3, (r.returncode, r.stderr)
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert open(path, "rb").read() == before


def test_crafted_pulse_count_is_refused_without_overflow():
    h = H.harness()
    path, data = make_state(h)
    off, _, ln = next(s for s in state_sections(data) if s[1] == 1)
    # the image ends: pulses u64, rest i64, credit i64, reasons u8, CRC
    at = off + ln - 4 - 1 - 8 - 8 - 8
    struct.pack_into("<Q", data, at, 1 << 60)   # its energy overflows
    img = data[off:off + ln]
    struct.pack_into("<I", data, off + ln - 4, zlib.crc32(bytes(img[:-4])))
    reseal(data)
    open(path, "wb").write(data)
    refused(h, path, [path, "meter 0's image is corrupt"])


def test_crafted_clock_section_names_the_file_and_the_field():
    h = H.harness()
    path, good = make_state(h)
    for value in (-1, 1 << 62, 5000000000000):
        data = bytearray(good)
        off, _, _ = next(s for s in state_sections(data) if s[1] == 2)
        struct.pack_into("<q", data, off, value)
        reseal(data)
        open(path, "wb").write(data)
        refused(h, path, [path, "clock section", "outside the years"])
    data = bytearray(good)
    off, _, _ = next(s for s in state_sections(data) if s[1] == 4)
    struct.pack_into("<q", data, off, -(1 << 62))
    reseal(data)
    open(path, "wb").write(data)
    refused(h, path, [path, "clock offsets section", "meter 0"])


# ---- crash safety


def test_sigkill_loop_never_loses_a_setting_or_energy():
    """24 SIGKILLs at 3600x, half of them while a client keeps writing a
    setting (every write is a save: the kill lands in or near one)."""
    h = H.harness()
    rnd = random.Random(12)
    state = h.path("meter.state")
    m = S.Sim(h, "--load", LOAD, "--speed", "3600", "--checkpoint", "0.1",
              "--start", "2026-01-01", state=state)
    write(m, PASSWORD, [1234])
    write(m, SLAVE, [7])
    kill(m)
    restored, left_temp = 0.0, 0
    for k in range(24):
        m = S.Sim(h, "--load", LOAD, "--speed", "3600", "--checkpoint",
                  "0.1", state=state)
        assert temp_files(h) == [], temp_files(h)   # removed at start
        assert m.regs(SLAVE, 1, unit=7) == [7]
        assert m.regs(PASSWORD, 1, unit=7) == [1234]
        now = m.float(0x80, unit=7)
        assert now >= restored, (k, restored, now)  # never backwards
        restored = now
        before = m.float(0x80, unit=7)
        stop = threading.Event()
        hammer = None
        if k % 2:
            def writes(port):
                try:
                    with H.tcp_connect(port) as s:
                        while not stop.is_set():
                            H.tcp_request(s, H.pdu_write(PASSWORD, [1234]),
                                          unit=7)
                except (OSError, AssertionError):
                    pass                # the kill closed it
            hammer = threading.Thread(target=writes, args=(m.port,))
            hammer.start()
        # 0.7 kWh at 2.3 kW x 3600 is at least 0.3 real s: two checkpoints
        # (0.1 s) were due since `before`, whatever the machine's speed
        assert H.wait_until(lambda: m.float(0x80, unit=7) > before + 0.7,
                            timeout=60)
        time.sleep(rnd.random() * 0.2)  # anywhere in the checkpoint cycle
        kill(m)
        stop.set()
        if hammer:
            hammer.join()
        left_temp += bool(temp_files(h))
        m = S.Sim(h, "--load", LOAD, "--speed", "0", state=state)
        got = m.float(0x80, unit=7)
        assert got >= before, (k, before, got)      # loss within a checkpoint
        assert got >= restored, (k, restored, got)
        restored = got
        assert m.stop() == 0
    print("# %d of 24 kills left a temporary file (removed at restart)"
          % left_temp)
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=state)
    assert m.regs(SLAVE, 1, unit=7) == [7] and temp_files(h) == []
    assert m.stop() == 0


if __name__ == "__main__":
    H.main(globals())
