"""The state file: energies survive SIGTERM and restarts, SIGKILL loses at
most what came after the last checkpoint, and a corrupt, truncated or
foreign file stops the start with a clear error and is left untouched.
Usage: test_sim_state.py KPM31C_SIM"""

import hashlib
import os
import signal
import sys
import time

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None

LOAD = "U=230,I=10,PF=1"


def energies(m):
    return m.floats(0x80, 7)


def test_restart_keeps_energy_and_it_never_goes_backwards():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "200", "--start", "2026-05-01")
    assert H.wait_until(lambda: m.float(0x80) > 0.1, timeout=30)
    assert m.stop() == 0            # SIGTERM: saved on the way out
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    saved = energies(m)
    assert saved[0] > 0.1
    assert m.stop() == 0
    m = S.Sim(h, "--load", LOAD, "--speed", "200", state=m.state)
    again = energies(m)
    assert all(b >= a for a, b in zip(saved, again)), (saved, again)
    assert H.wait_until(lambda: m.float(0x80) > saved[0] + 0.05, timeout=30)


def test_sigkill_loses_at_most_one_checkpoint():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "1000", "--checkpoint", "0.2",
              "--start", "2026-05-01")
    assert H.wait_until(lambda: m.float(0x80) > 0.5, timeout=30)
    before = m.float(0x80)
    time.sleep(1.0)                 # five checkpoints later
    last = m.float(0x80)
    os.killpg(m.proc.p.pid, signal.SIGKILL)
    m.proc.p.wait()
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    restored = m.float(0x80)
    # a checkpoint after `before` was saved; nothing beyond what existed
    assert before <= restored, (before, restored)
    assert restored <= last + 0.05, (restored, last)
    assert not [f for f in os.listdir(h.tmp) if ".tmp." in f]


def test_clock_set_by_a_user_survives_a_restart():
    h = H.harness()
    m = S.Sim(h, "--load", LOAD, "--speed", "0", "--start", "2026-05-01T12:00")
    # the user sets the meter's clock to 2026-06-15 08:30:00 over Modbus
    with H.tcp_connect(m.port) as s:
        pdu = H.tcp_request(s, H.pdu_write(0x1110, [2026, 6, 15, 8, 30, 0]))
        assert H.exception_of(pdu) is None
    assert m.regs(0x1110, 6) == [2026, 6, 15, 8, 30, 0]
    assert m.stop() == 0
    # virtual time restarts where it was; the meter's clock keeps its lead
    m = S.Sim(h, "--load", LOAD, "--speed", "0", state=m.state)
    ymdhms = m.regs(0x1110, 6)
    assert ymdhms[:5] == [2026, 6, 15, 8, 30], ymdhms


def test_a_state_file_resumes_at_its_clock_never_before():
    h = H.harness()
    path = make_state(h)            # 2026-01-01 00:00 .. 02:00
    before = sha(path)
    # no --start: the clock goes on where it stopped, and says so
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--until", "1h", "--speed", "max", "--dump", h.path("d.json"))
    assert r.returncode == 0, r.stderr
    assert "%s: the clock resumes at 2026-01-01T02:00:00, where it " \
        "stopped" % path in r.stderr, r.stderr
    d = S.dump(h.path("d.json"))
    assert d["time"] == "2026-01-01T03:00:00", d["time"]
    assert abs(d["registers"]["0080"] - 3 * 2.3) < 1e-4, d["registers"]["0080"]
    # an earlier --start is refused, the file untouched
    before = sha(path)
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--start", "2026-01-01T01:00", "--until", "1h", "--speed", "max")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "the start 2026-01-01T01:00:00 (--start) is before " \
        "2026-01-01T03:00:00, where the clock of %s stopped: a meter's " \
        "clock never runs backwards by itself" % path in r.stderr, r.stderr
    assert sha(path) == before
    # a later one, or now, is a jump forward
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--start", "now", "--until", "1", "--speed", "max", "--dump",
              h.path("d.json"))
    assert r.returncode == 0, r.stderr
    assert S.dump(h.path("d.json"))["time"] > "2026-11", r.stderr


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_state(h):
    path = h.path("meter.state")
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--start", "2026-01-01", "--until", "2h", "--speed", "max")
    assert r.returncode == 0, r.stderr
    return path


def refused(h, path, words):
    before = sha(path)
    r = S.run(h, "--tcp", "off", "--state", path, "--load", LOAD,
              "--until", "10", "--speed", "max")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert path in r.stderr and words in r.stderr, r.stderr
    assert "left as it is" in r.stderr, r.stderr
    assert sha(path) == before


def test_corrupt_state_file_refused_and_kept():
    h = H.harness()
    path = make_state(h)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x10
    open(path, "wb").write(data)
    refused(h, path, "corrupt")


def test_truncated_state_file_refused_and_kept():
    h = H.harness()
    path = make_state(h)
    data = open(path, "rb").read()
    for cut in (0, 7, 20, len(data) // 2, len(data) - 1):
        open(path, "wb").write(data[:cut])
        refused(h, path, "state file")


def test_foreign_file_refused_and_kept():
    h = H.harness()
    path = h.path("meter.state")
    with open(path, "w") as f:
        f.write("these are my notes, not a meter\n" * 10)
    refused(h, path, "not a kpm31c-sim state file")


def test_fleet_state_cannot_shrink_silently():
    h = H.harness()
    path = h.path("fleet.state")
    r = S.run(h, "--tcp", "off", "--state", path, "--meters", 3, "--load",
              LOAD, "--start", "2026-01-01", "--until", "1h", "--speed", "max")
    assert r.returncode == 0, r.stderr
    refused_args = ["--tcp", "off", "--state", path, "--meters", 2,
                    "--until", "1", "--speed", "max"]
    before = sha(path)
    r = S.run(h, *refused_args)
    assert r.returncode == 3 and "more meters" in r.stderr, r.stderr
    assert sha(path) == before
    # growing the fleet is fine: the new meter starts from zero
    r = S.run(h, "--tcp", "off", "--state", path, "--meters", 4, "--load",
              LOAD, "--until", "1", "--speed", "max", "--dump", h.path("d.json"))
    assert r.returncode == 0, r.stderr
    d = S.dump(h.path("d.json"))
    e = [x["registers"]["0080"] for x in d["meters"]]
    assert e[0] > 2.2 and e[1] > 2.2 and e[2] > 2.2 and e[3] < 0.01, e


if __name__ == "__main__":
    H.main(globals())
