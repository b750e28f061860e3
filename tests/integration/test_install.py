"""meson install into a DESTDIR: the binary runs scenarios from the
installed library by name (found beside itself), and the docs, the man page
and the systemd units are there (docs/usage.md, "Install").
Usage: test_install.py KPM31C_SIM BUILDDIR"""

import json
import os
import shutil
import subprocess
import sys

import harness as H

BUILD = sys.argv[2] if len(sys.argv) > 2 else "build"


def installed(h):
    """Install the build into a DESTDIR under h; the directories as the
    build's options name them, inside it."""
    dest = h.path("dest")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", dest,
                        "--no-rebuild", "--quiet"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    opts = json.loads(subprocess.run(
        ["meson", "introspect", BUILD, "--buildoptions"], check=True,
        capture_output=True, text=True).stdout)
    o = {x["name"]: x["value"] for x in opts}
    prefix = o["prefix"]

    def inside(d):
        return dest + os.path.join(prefix, d)
    units = o["systemdunitdir"] or os.path.join(prefix, "lib/systemd/system")
    return {"bin": inside(o["bindir"]), "data": inside(o["datadir"]),
            "man": inside(o["mandir"]), "units": dest + units,
            "prefix_bin": os.path.join(prefix, o["bindir"])}


def run(exe, *args, cwd):
    return subprocess.run([exe, "--headless"] + list(args), cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_the_installed_binary_runs_the_installed_scenario_library():
    h = H.harness()
    d = installed(h)
    exe = os.path.join(d["bin"], "kpm31c-sim")
    lib = os.path.join(d["data"], "kpm31c-sim", "scenarios")
    for f in ("household_day.lua", "lib/appliances.lua", "data/pv_june.csv"):
        assert os.path.isfile(os.path.join(lib, f)), f
    cwd = h.path("elsewhere")
    os.mkdir(cwd)
    # by name, with and without .lua: lib/ (require) and data/ (csv)
    for name in ("household_day", "pv_export.lua"):
        r = run(exe, name, "--tap", cwd=cwd)
        assert r.returncode == 0, (name, r.stdout, r.stderr)
        assert "not ok" not in r.stdout and "\nok " in r.stdout, r.stdout
    # a local file of that name comes first
    with open(os.path.join(cwd, "pv_export.lua"), "w") as f:
        f.write('print("the local one")\n')
    r = run(exe, "pv_export.lua", cwd=cwd)
    assert r.returncode == 0 and "the local one" in r.stdout, r
    # named without .lua too: the local one shadows the library's
    r = run(exe, "pv_export", cwd=cwd)
    assert r.returncode == 0 and "the local one" in r.stdout, r
    r = run(exe, "no_such_story", cwd=cwd)
    assert r.returncode == 2, r
    assert "no_such_story: no such scenario here, nor in the scenario " \
        "library (%s" % lib in r.stderr, r.stderr


def test_the_built_binary_runs_the_sources_library():
    # not installed: the binary in its build tree finds scenarios by name
    # in the sources (scripts/run demo from anywhere)
    h = H.harness()
    exe = sys.argv[1]
    src = os.path.realpath(os.path.join(os.path.dirname(__file__), "..",
                                        "..", "scenarios"))
    r = run(exe, "pv_export", "--tap", cwd=h.tmp)
    assert r.returncode == 0 and "\nok " in r.stdout, (r.stdout, r.stderr)
    r = run(exe, "no_such_story", cwd=h.tmp)
    assert r.returncode == 2, r
    assert "library (%s, " % src in r.stderr, (src, r.stderr)


def test_docs_man_page_and_units_are_installed():
    h = H.harness()
    d = installed(h)
    docs = os.path.join(d["data"], "doc", "kpm31c-sim")
    for f in ("README.md", "usage.md", "scenarios.md", "modbus.md"):
        assert os.path.isfile(os.path.join(docs, f)), f
    assert not os.path.exists(os.path.join(docs, "meson.build"))
    man = os.path.join(d["man"], "man1", "kpm31c-sim.1")
    if shutil.which("scdoc"):
        text = open(man).read()
        assert text.startswith(".\\\"") or ".TH" in text, text[:200]
        assert "kpm31c-sim" in text and "ready-file" in text
    else:
        assert not os.path.exists(man)
        print("# skipped the man page: no scdoc (scripts/setup installs it)")
    unit = open(os.path.join(d["units"], "kpm31c-sim.service")).read()
    tmpl = open(os.path.join(d["units"], "kpm31c-sim@.service")).read()
    exe = os.path.join(d["prefix_bin"], "kpm31c-sim")
    assert "ExecStart=%s --headless" % exe in unit, unit
    assert "--config /etc/kpm31c-sim/%i.json" in tmpl, tmpl
    # the units' defaults are the weakest source: OPTIONS, the fleet file
    # and KPM31C_* in /etc/default/kpm31c-sim replace them
    for text in (unit, tmpl):
        start = [l for l in text.splitlines() if l.startswith("ExecStart=")]
        assert not any(o in start[0] for o in ("--load", "--tcp", "--rtu",
                                               "--ready-file")), start
    assert "Environment=KPM31C_DEFAULT_TCP=127.0.0.1:1502" in unit, unit
    assert "Environment=KPM31C_DEFAULT_READY_FILE=" in tmpl, tmpl
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("# skipped systemd-analyze verify: not installed")
        return
    # verified as installed, but with ExecStart at the DESTDIR's binary
    # (verify checks that the command exists); the template as an instance
    vdir = h.path("verify")
    os.mkdir(vdir)
    here = os.path.join(d["bin"], "kpm31c-sim")
    paths = []
    for name, text in (("kpm31c-sim.service", unit),
                       ("kpm31c-sim@ci.service", tmpl)):
        paths.append(os.path.join(vdir, name))
        with open(paths[-1], "w") as f:
            f.write(text.replace("ExecStart=" + exe, "ExecStart=" + here))
    r = subprocess.run([analyze, "verify", "--man=no"] + paths,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    H.main(globals())
