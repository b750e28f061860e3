#!/usr/bin/python3
"""Benchmarks of the meter process as a whole; prints figures for
docs/performance.md. Usage: bench_sim.py BUILD/sim/kpm31c-sim

- start-up to the first Modbus TCP answer (median of 20 starts)
- one simulated year of one meter at --speed max (wall time)
- memory per meter: resident set with --meters 1000 against --meters 1
- an acknowledged setting write (FC16, saved before its reply) with and
  without a state file, and with a fleet of 100 meters' state
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_u(port, deadline):
    """One FC03 read of 0x0030 (U); returns when answered."""
    req = struct.pack(">HHHBBHH", 1, 0, 6, 1, 3, 0x30, 2)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                rsp = s.recv(64)
                if len(rsp) >= 13 and rsp[7] == 3:
                    return struct.unpack(">f", rsp[9:13])[0]
        except OSError:
            time.sleep(0.0005)
    raise RuntimeError("no answer")


def startup(sim, runs=20):
    times = []
    for _ in range(runs):
        port = free_port()
        t0 = time.monotonic()
        p = subprocess.Popen([sim, "--headless", "--no-state", "-q",
                              "--tcp", f"127.0.0.1:{port}",
                              "--load", "U=230,I=5,PF=0.95"])
        try:
            read_u(port, t0 + 10)
            times.append(time.monotonic() - t0)
        finally:
            p.terminate()
            p.wait()
    times.sort()
    return times[len(times) // 2], times[-1]


def year(sim):
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        subprocess.run([sim, "--headless", "--no-state", "-q", "--tcp", "off",
                        "--start", "2026-01-01T00:00:00", "--until",
                        "2027-01-01T00:00:00", "--speed", "max", "--load",
                        "U=230,I=5,PF=0.95", "--dump", os.path.join(d, "d.json")],
                       check=True)
        return time.monotonic() - t0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory(sim, n):
    port = free_port()
    p = subprocess.Popen([sim, "--headless", "--no-state", "-q", "--tcp",
                          f"127.0.0.1:{port}", "--meters", str(n), "--speed",
                          "1", "--load", "U=230,I=5,PF=0.95"])
    try:
        read_u(port, time.monotonic() + 30)
        time.sleep(2)   # let every meter run a few seconds of waveform
        return rss_kib(p.pid)
    finally:
        p.terminate()
        p.wait()


def write_latency(sim, state, meters=1, n=300):
    """Median and p99 of n FC16 writes of the LCD password (a setting:
    with a state file each is saved, fsync'd, before its reply)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        args = (["--state", os.path.join(d, "s.state")] if state
                else ["--no-state"])
        p = subprocess.Popen([sim, "--headless", "-q", "--tcp",
                              f"127.0.0.1:{port}", "--speed", "0",
                              "--meters", str(meters), "--load",
                              "U=230,I=5,PF=0.95"] + args, cwd=d)
        try:
            read_u(port, time.monotonic() + 30)
            times = []
            with socket.create_connection(("127.0.0.1", port)) as s:
                for k in range(n):
                    req = struct.pack(">HHHBBHHBH", k, 0, 9, 1, 16, 0x1105,
                                      1, 2, 1000 + k % 2)
                    t0 = time.monotonic()
                    s.sendall(req)
                    if len(s.recv(64)) < 12:
                        raise RuntimeError("no reply")
                    times.append(time.monotonic() - t0)
            times.sort()
            return times[n // 2], times[n * 99 // 100]
        finally:
            p.terminate()
            p.wait()


def main():
    sim = sys.argv[1]
    med, worst = startup(sim)
    print(f"start-up to first Modbus TCP answer: median {med * 1000:.1f} ms, "
          f"worst {worst * 1000:.1f} ms (20 starts)")
    t = year(sim)
    print(f"one simulated year, one meter, --speed max: {t:.2f} s "
          f"({365 * 86400 / t / 1e6:.2f} M virtual s per s)")
    one = memory(sim, 1)
    many = memory(sim, 1000)
    print(f"resident memory: {one} KiB with 1 meter, {many} KiB with 1000: "
          f"{(many - one) / 999:.1f} KiB per meter")
    for state, meters in ((False, 1), (True, 1), (True, 100)):
        p50, p99 = write_latency(sim, state, meters)
        print(f"setting write (FC16) to its reply, "
              f"{'state file' if state else '--no-state'}, {meters} "
              f"meter(s): p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us")


if __name__ == "__main__":
    main()
