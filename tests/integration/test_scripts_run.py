"""scripts/run from another directory: each default stays unless an
argument, the fleet file or a KPM31C_* variable replaces it, relative paths are the caller's, and the state file
is the caller's ./kpm31c.state (docs/usage.md, "Start a meter").
Usage: test_scripts_run.py KPM31C_SIM"""

import json
import os
import shlex
import subprocess
import sys
import urllib.request

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RUN = os.path.join(ROOT, "scripts", "run")


def caller(h):
    d = h.path("caller")
    os.makedirs(d, exist_ok=True)
    return d


def serve(h, cwd, *args, env):
    """scripts/run ARGS started from cwd; its ready file's JSON."""
    cmd = "cd %s && exec %s %s" % (shlex.quote(cwd), shlex.quote(RUN),
                                   " ".join(shlex.quote(str(a)) for a in args))
    p = h.start(["sh", "-c", cmd], stdin=False, env=env)
    return p, S.wait_ready(p, os.path.join(cwd, "ready.json"), timeout=30)


def test_a_replaced_default_keeps_the_others_in_the_callers_directory():
    h = H.harness()
    cwd = caller(h)
    env = dict(os.environ, KPM31C_SIM=S.exe())
    port = H.free_port()
    # --tcp replaced, --rtu replaced by a relative link, --load kept
    p, doc = serve(h, cwd, "--tcp", "127.0.0.1:%d" % port, "--rtu", "tty",
                   "--headless", "--ready-file", "ready.json", env=env)
    eps = {e["kind"]: e for e in doc["endpoints"]}
    assert eps["modbus-tcp"]["port"] == port, doc
    assert eps["modbus-rtu"]["path"] == os.path.join(cwd, "tty"), doc
    assert abs(S.floats(port, 0x32)[0] - 5.0) < 0.05, "the default load is gone"
    assert abs(S.floats(port, 0x30)[0] - 230.0) < 0.5
    # --http on a free loopback port: the start line gives the face's URL
    url = eps["http"]["url"]
    assert url.startswith("http://127.0.0.1:"), doc
    assert "the meter's face: %s" % url in p.stderr(), p.stderr()
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/html"), r.headers
    assert p.stop() == 0, p.stderr()
    assert os.path.isfile(os.path.join(cwd, "kpm31c.state")), \
        "the state file is not the caller's ./kpm31c.state"
    assert not os.path.exists(os.path.join(ROOT, "caller"))


def test_a_relative_scenario_runs_from_the_callers_directory():
    h = H.harness()
    cwd = caller(h)
    os.makedirs(os.path.join(cwd, "sub", "data"))
    with open(os.path.join(cwd, "sub", "data", "steps.csv"), "w") as f:
        f.write("amps\n3\n")
    with open(os.path.join(cwd, "sub", "mine.lua"), "w") as f:
        f.write('local amps = csv("data/steps.csv"):column("amps")[1]\n'
                'local m = meter(1)\n'
                'm:load{ U = 230, I = amps, PF = 1 }\n'
                'advance("1m")\n'
                'expect.near(m:read("I"), 3, 0.05, "current")\n')
    env = dict(os.environ, KPM31C_SIM=S.exe())
    r = subprocess.run([RUN, "sub/mine.lua", "--headless"], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "1 passed, 0 failed" in r.stdout, r.stdout
    # a scenario gets none of the defaults: no TCP, no pty, no state
    assert "Modbus" not in r.stderr, r.stderr
    assert os.listdir(cwd) == ["sub"], os.listdir(cwd)
    # nor does one named without .lua (./mine.lua before the library's)
    r = subprocess.run([RUN, "mine", "--headless"], cwd=os.path.join(
        cwd, "sub"), env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "1 passed, 0 failed" in r.stdout, \
        (r.stdout, r.stderr)
    assert "Modbus" not in r.stderr, r.stderr
    assert os.listdir(cwd) == ["sub"], os.listdir(cwd)


def test_the_fleet_file_and_the_environment_beat_the_defaults():
    """The defaults are the weakest source: a fleet file given as an
    argument, or KPM31C_* variables, replace them (docs/fleet.md: the file
    gives every option)."""
    h = H.harness()
    cwd = caller(h)
    port = H.free_port()
    with open(os.path.join(cwd, "fleet.json"), "w") as f:
        json.dump({"load": "U=100,I=1,PF=1", "headless": True,
                   "no-state": True, "tcp": "127.0.0.1:%d" % port,
                   "rtu": "off", "ready-file": "ready.json"}, f)
    env = dict(os.environ, KPM31C_SIM=S.exe())
    p, doc = serve(h, cwd, "--config", "fleet.json", env=env)
    # the file's ports, no default pty; the default API stays (the file
    # sets no "http")
    assert [e["kind"] for e in doc["endpoints"]] == ["modbus-tcp", "http"], \
        doc
    assert abs(S.floats(port, 0x30)[0] - 100) < 0.5, \
        "the default load beat the file's"
    assert p.stop() == 0, p.stderr()
    port = H.free_port()
    env.update(KPM31C_TCP="127.0.0.1:%d" % port, KPM31C_RTU="off",
               KPM31C_LOAD="U=230,I=2", KPM31C_NO_STATE="1")
    p, doc = serve(h, cwd, "--headless", "--ready-file", "ready.json",
                   env=env)
    assert [(e["kind"], e["port"]) for e in doc["endpoints"]][:1] == \
        [("modbus-tcp", port)], doc
    assert [e["kind"] for e in doc["endpoints"]] == ["modbus-tcp", "http"]
    assert abs(S.floats(port, 0x32)[0] - 2.0) < 0.05, \
        "the default load beat KPM31C_LOAD"
    assert p.stop() == 0, p.stderr()


def test_it_builds_with_builddir_and_passes_the_arguments_on():
    missing = H.missing_packages(ROOT)
    if missing:
        raise H.Skip("scripts/setup would install " + " ".join(missing))
    h = H.harness()
    build = os.path.dirname(os.path.dirname(S.exe()))
    env = dict(os.environ, BUILDDIR=build)
    env.pop("KPM31C_SIM", None)
    r = subprocess.run([RUN, "--version"], cwd=caller(h), env=env,
                       capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("kpm31c-sim "), r.stdout


if __name__ == "__main__":
    H.main(globals())
