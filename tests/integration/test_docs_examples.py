"""The examples of docs/usage.md and README.md really run: every mbpoll
command and every Python block of docs/usage.md, against a meter started
with the documented command (port and pty moved to free ones), and
their documented output where the doc shows it.
Usage: test_docs_examples.py KPM31C_SIM DOCS_DIR"""

import os
import re
import shlex
import subprocess
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
DOCS = sys.argv[2] if len(sys.argv) > 2 else "docs"
ROOT = os.path.dirname(os.path.abspath(DOCS))


def blocks(path):
    """(language, text) of every fenced block, in order."""
    text = open(path).read()
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


def start_documented_meter(h, doc):
    cmd = next(line for lang, b in blocks(doc) if lang == "sh"
               for line in b.splitlines()
               if line.startswith("build/sim/kpm31c-sim --load"))
    argv = shlex.split(cmd)[1:]
    port = H.free_port()
    link = h.path("ttyKPM31C")
    argv = [a.replace("127.0.0.1:1502", "127.0.0.1:%d" % port)
             .replace("/tmp/ttyKPM31C", link) for a in argv]
    proc = h.start([S.exe(), "--headless", "--state", h.path("s.state")] +
                   argv, stdin=False)
    m = S.Sim.__new__(S.Sim)
    m.proc, m.port, m.link, m.h = proc, port, link, h
    assert H.wait_until(m._ready, timeout=15)
    return port, link


def localize(text, port, link):
    return (text.replace("-p 1502", "-p %d" % port)
                .replace("port=1502", "port=%d" % port)
                .replace("/tmp/ttyKPM31C", link))


def expected_after(bl, k):
    """The text block right after block k, if any."""
    if k + 1 < len(bl) and bl[k + 1][0] == "text":
        return bl[k + 1][1]
    return None


def test_usage_examples_run_and_print_what_the_doc_says():
    h = H.harness()
    doc = os.path.join(DOCS, "usage.md")
    port, link = start_documented_meter(h, doc)
    bl = blocks(doc)
    ran = 0
    for k, (lang, text) in enumerate(bl):
        if lang == "sh" and text.startswith("mbpoll"):
            r = subprocess.run(shlex.split(localize(text.strip(), port, link)),
                               capture_output=True, text=True, timeout=30)
            out = r.stdout
        elif lang == "python":
            r = subprocess.run(["/usr/bin/python3", "-c",
                                localize(text, port, link)],
                               capture_output=True, text=True, timeout=30)
            out = r.stdout
        else:
            continue
        assert r.returncode == 0, (text, r.stdout, r.stderr)
        want = expected_after(bl, k)
        if want:
            for line in want.strip().splitlines():
                assert line.strip() in out, (text, line, out)
        ran += 1
    assert ran >= 4, ran


def test_readme_commands_exist():
    readme = open(os.path.join(ROOT, "README.md")).read()
    head = readme.split("\n## ")[0]
    assert "scripts/run" in head and "scripts/test" in head
    for script in ("scripts/run", "scripts/test", "scripts/setup"):
        assert os.access(os.path.join(ROOT, script), os.X_OK), script


if __name__ == "__main__":
    H.main(globals())
