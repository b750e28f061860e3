"""Every fenced example of README.md and docs/*.md runs, and prints what
the doc says it prints. Usage: test_docs_examples.py KPM31C_SIM DOCS_DIR

The conventions the docs follow (docs/development.md, "Examples in the
docs"):

- ```sh: each line is a command (a trailing backslash continues it, `#`
  starts a comment); `# exits N` in its comment is the exit status it
  must have (default 0). Fixed ports and paths move to private ones:
  - `kpm31c-sim` and `build/sim/kpm31c-sim` are the binary under test,
    run headless in a private directory, with `--tcp` on a free port,
    `--rtu` at a private link, `--state` a private file (each meter that
    runs for ever its own), `--mqtt` at the
    doc's broker. Repository paths (`scenarios/...`) are the repository's;
    a scenario file the repository does not have (`my_test.lua`) is the
    doc's first ```lua block. A meter that would run for ever (no
    `--until`, not a scenario) is a server: it must answer Modbus, then
    the commands after it (in this block and the doc's next ones) talk
    to it, and SIGTERM must stop it with status 0 at the end of the doc.
  - `--http` listens on a free port, and `curl` talks to the latest
    meter of the doc that has one (`127.0.0.1:8080` in its URL moved
    there).
  - `mbpoll` polls the latest meter of the doc (with `-1` added when the
    command polls for ever), or, in a doc that starts none, the meter
    docs/usage.md starts by hand. `mosquitto` runs on a free port;
    `mosquitto_sub` (stopped once it printed a message) and
    `mosquitto_pub` talk to the doc's broker, which the test starts if
    the doc does not.
  - `scripts/run` runs with its own defaults moved to private ones (the
    same meter), `scripts/setup` and `scripts/firmware` as they are;
    `meson setup build` and `ninja -C build` in the build directory under
    test. Neither script runs when a package scripts/setup lists is
    missing: a test never installs packages (the block counts as skipped).
  - Any other command fails the test: give it a rule here, or mark it.
- ```lua: a whole scenario, written as `example.lua` beside copies of
  scenarios/data and scenarios/lib and run with `-q --speed max`;
  `-- exits N` in it is its exit status. A fragment marked
  `<!-- lua fragment -->` runs after `local m = meter(1)`, a 230 V / 5 A
  load and one second.
- ```python: run by /usr/bin/python3 against the meter mbpoll would poll
  (`port=1502` moved to its port).
- A ```text block right after one of those (only blank lines between) is
  its output: a scenario's exact stdout; for sh and python, every line of
  it appears in the output (stdout and stderr, trimmed). A ```json block
  right after a command with `--dump FILE` holds values of FILE: each key
  shown (but "...") must be there, equal.
- `<!-- not run: REASON -->` just before a fence skips that block;
  `<!-- not run `PREFIX`: REASON -->` skips its command lines that start
  with PREFIX. Skips are counted and listed in the TAP output.
- A ```json block marked `<!-- file: NAME -->` is written as NAME in
  the doc's private directory, where its commands run (a fleet file
  for `--config NAME`; the command line's private ports and paths win
  over the file's).
- ```json, ```c and untagged blocks are payloads, API sketches, diagrams
  and transcripts, never run; an untagged block that starts with a
  command fails the test (tag it).
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
DOCS = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "docs")
ROOT = os.path.dirname(DOCS)
BUILD = os.path.dirname(os.path.dirname(S.exe()))
TIMEOUT = 120

FENCE = re.compile(r"^```(\w*)\s*$")
FILE_NOTE = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->$")
NOT_RUN = re.compile(r"^<!--\s*not run(?:\s+`([^`]+)`)?:\s*(.*?)\s*-->$")
COMMANDS = ("kpm31c-sim", "mbpoll", "curl", "mosquitto", "mosquitto_sub",
            "mosquitto_pub", "meson", "ninja", "python3", "$")

ran = {"sh": 0, "lua": 0, "python": 0}
commands_run = [0]
outputs_checked = [0]
skipped = []             # "doc:line: what: reason"
cache = {}               # argv of a bounded meter run -> (rc, out, files)


# --------------------------------------------------------------------------
# reading the docs


class Block:
    def __init__(self, doc, line, lang, body, notes):
        self.doc, self.line, self.lang, self.body = doc, line, lang, body
        self.notes = notes          # HTML comments just before the fence
        self.expect = None          # (lang, body) of the block right after

    def where(self):
        return "%s:%d" % (self.doc, self.line)

    def not_run(self):
        """(whole-block reason or None, {line prefix: reason})."""
        whole, lines = None, {}
        for note in self.notes:
            m = NOT_RUN.match(note)
            if m and m.group(1):
                lines[m.group(1)] = m.group(2)
            elif m:
                whole = m.group(2)
        return whole, lines

    def file_name(self):
        """NAME of a ```json block marked <!-- file: NAME -->, or None."""
        return next((FILE_NOTE.match(n).group(1) for n in self.notes
                     if FILE_NOTE.match(n)), None)

    def fragment(self):
        return "<!-- lua fragment -->" in self.notes


def blocks(path):
    """Every fenced block of a Markdown file, in order, with the HTML
    comments just before it and the output block right after it."""
    name = os.path.relpath(path, ROOT)
    lines = open(path).read().split("\n")
    out, k, notes, adjacent = [], 0, [], False
    while k < len(lines):
        m = FENCE.match(lines[k])
        if not m:
            s = lines[k].strip()
            if s.startswith("<!--") and s.endswith("-->"):
                notes.append(s)
            elif s:
                notes, adjacent = [], False
            k += 1
            continue
        start, k = k, k + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        b = Block(name, start + 1, m.group(1), "\n".join(
            lines[start + 1:k]) + "\n", notes)
        if adjacent and out and b.lang in ("text", "json") and not notes:
            out[-1].expect = (b.lang, b.body)
        out.append(b)
        notes, adjacent, k = [], True, k + 1
    return out


def commands(body):
    """(line, comment) of each command of a sh block: continuations
    joined, blank and comment-only lines dropped."""
    out, cur = [], ""
    for raw in body.splitlines():
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        if shlex.split(cur, comments=True):
            lex = shlex.shlex(cur, posix=True)
            lex.whitespace_split, lex.commenters = True, ""
            words = list(lex)
            comment = ""
            if "#" in words:   # an unquoted word starting a comment
                comment = " ".join(words[words.index("#"):])
            else:
                for w in words:
                    if w.startswith("#"):
                        comment = w
            out.append((cur.strip(), comment))
        cur = ""
    return out


def exits(comment, default=0):
    m = re.search(r"exits (\d+)", comment)
    return int(m.group(1)) if m else default


# --------------------------------------------------------------------------
# one doc's world: its private directory, meters and broker


class Doc:
    def __init__(self, name):
        self.name = name
        self.h = H.harness()
        self.meters = []         # (proc, port, link) of servers, in order
        self.broker = None       # port
        self.http = None         # the latest meter's --http port
        self.first_lua = None
        self.reference = None

    # ---- the broker

    def broker_port(self):
        if self.broker is None:
            self.start_broker(H.free_port())
        return self.broker

    def start_broker(self, port):
        p = self.h.start(["mosquitto", "-p", str(port)], name="mosquitto",
                         stdin=False)
        self.broker = port

        def listening():
            if not p.running():
                raise AssertionError("mosquitto exited:\n" + p.stderr())
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False
        assert H.wait_until(listening, timeout=15), p.stderr()

    # ---- meters

    def localize_sim(self, args):
        """kpm31c-sim's arguments with ports and paths made private; and
        whether the run is a scenario."""
        scenario = any(a.endswith(".lua") for a in args)
        out, seen, k = [], set(), 0
        while k < len(args):
            a = args[k]
            if a == "--http" and k + 1 < len(args):
                self.http = H.free_port()
                out += [a, "127.0.0.1:%d" % self.http]
                k += 2
                continue
            if a in ("--tcp", "--rtu", "--state", "--mqtt", "--config") and \
                    k + 1 < len(args):
                v, k = args[k + 1], k + 2
                seen.add(a)
                if a == "--tcp" and v != "off":
                    v = "127.0.0.1:%d" % H.free_port()
                elif a == "--rtu":
                    v = self.h.path("tty%d" % len(self.h.procs))
                elif a == "--state":
                    v = self.h.path(os.path.basename(v))
                elif a == "--config" and not os.path.isabs(v):
                    v = self.h.path(v)      # a <!-- file: NAME --> block
                elif a == "--mqtt":
                    v = re.sub(r":\d+$", ":%d" % self.broker_port(), v)
                out += [a, v]
                continue
            if a.endswith(".lua"):
                a = self.scenario_file(a)
            elif "/" in a and not a.startswith("-") and \
                    os.path.exists(os.path.join(ROOT, a)):
                a = os.path.join(ROOT, a)
            out.append(a)
            k += 1
        if not scenario:
            if "--tcp" not in seen:
                out += ["--tcp", "127.0.0.1:%d" % H.free_port()]
            if "--state" not in seen and "--no-state" not in out:
                out += ["--state", self.h.path("kpm31c.state")]
        return ["--headless"] + out, scenario

    def scenario_file(self, name):
        path = os.path.join(ROOT, name)
        if os.path.exists(path):
            return path
        assert self.first_lua, "%s: no %s, and no lua block to be it" % (
            self.name, name)
        path = self.h.path(os.path.basename(name))
        with open(path, "w") as f:
            f.write(self.first_lua)
        return path

    def serve(self, argv, name, env=None):
        """Start a meter that runs for ever; wait until it answers. Each
        has its own state file (one process per state file: a second
        one on the default file would be refused)."""
        default = self.h.path("kpm31c.state")
        argv = [self.h.path("kpm31c-%d.state" % len(self.meters))
                if a == default else a for a in argv]
        proc = self.h.start(argv, name=name, stdin=False, env=env)
        port = link = None
        for k, a in enumerate(argv[:-1]):
            if a == "--tcp" and argv[k + 1] != "off":
                port = int(argv[k + 1].rsplit(":", 1)[1])
            elif a == "--rtu":
                link = argv[k + 1]
        m = S.Sim.__new__(S.Sim)
        m.proc, m.port, m.link, m.h = proc, port, link, self.h
        assert H.wait_until(m._ready, timeout=30), \
            "%s never answered:\n%s" % (name, proc.stderr())
        self.meters.append((proc, port, link))
        return proc

    def meter(self, rtu=False):
        """The latest meter of the doc (with a pty when rtu); else the
        meter docs/usage.md starts by hand."""
        for proc, port, link in reversed(self.meters):
            if proc.running() and (link or not rtu):
                return port, link
        if self.reference is None:
            cmd = next(c for b in blocks(os.path.join(DOCS, "usage.md"))
                       if b.lang == "sh" for c, _ in commands(b.body)
                       if c.startswith("build/sim/kpm31c-sim --load"))
            args, _ = self.localize_sim(shlex.split(cmd)[1:])
            self.serve([S.exe()] + args, "reference-meter")
            self.reference = self.meters[-1]
        return self.reference[1], self.reference[2]

    def finish(self):
        """Stop the doc's meters: each must exit 0 on SIGTERM."""
        for proc, _, _ in self.meters:
            assert proc.running(), "%s exited early:\n%s" % (
                proc.name, proc.stderr())
            rc = proc.stop()
            assert rc == 0, "%s: exit %s on SIGTERM:\n%s" % (
                proc.name, rc, proc.stderr())
        self.h.close()


# --------------------------------------------------------------------------
# running a sh command


def run(argv, cwd, env=None, want=0, what=""):
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert r.returncode == want, "%s: exit %d, not %d\n%s\n%s" % (
        what, r.returncode, want, r.stdout[-3000:], r.stderr[-3000:])
    return r.stdout + r.stderr


def run_sim(doc, words, want, what):
    args, scenario = doc.localize_sim(words[1:])
    argv = [S.exe()] + args
    if want == 0 and not scenario and "--until" not in args:
        doc.serve(argv, "kpm31c-sim-%d" % len(doc.h.procs))
        return ""
    # a bounded run: the same words give the same result (determinism)
    key = tuple(words)
    outs = [a for k, a in enumerate(args) if k and args[k - 1] in (
        "--dump", "--junit")]
    if key not in cache or want != 0:
        out = run(argv, doc.h.tmp, want=want, what=what)
        files = {}
        for f in outs:
            with open(os.path.join(doc.h.tmp, f)) as fh:
                files[f] = fh.read()
        cache[key] = (out, files)
    out, files = cache[key]
    for f, text in files.items():
        with open(os.path.join(doc.h.tmp, f), "w") as fh:
            fh.write(text)
    if "--tap" in args:
        assert "TAP version 13" in out, (what, out)
    for f in outs:
        if args[args.index(f) - 1] == "--junit":
            assert "<testsuite" in files[f], (what, files[f])
    return out


def run_mbpoll(doc, words, want, what):
    rtu = words[words.index("-m") + 1] == "rtu" if "-m" in words else True
    port, link = doc.meter(rtu=rtu)
    out = []
    for k, w in enumerate(words):
        if k and words[k - 1] == "-p" and rtu is False:
            w = str(port)
        elif w.startswith(("/tmp/tty", "/dev/tty")):
            w = link
        out.append(w)
    if "-1" not in out:
        out.insert(1, "-1")
    return run(out, doc.h.tmp, want=want, what=what)


def localize_broker(doc, words):
    words = list(words)
    port = str(doc.broker_port())
    if "-p" in words:
        words[words.index("-p") + 1] = port
    else:
        words[1:1] = ["-p", port]
    return words


def run_command(doc, line, comment, what):
    want = exits(comment)
    words = shlex.split(line, comments=True)
    background = words[-1] == "&"
    if background:
        words = words[:-1]
    env = dict(os.environ)
    while "=" in words[0] and not words[0].startswith(("-", "/")):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    prog = words[0]
    if prog in ("kpm31c-sim", "build/sim/kpm31c-sim"):
        return run_sim(doc, words, want, what)
    if prog == "mbpoll":
        return run_mbpoll(doc, words, want, what)
    if prog == "curl":
        assert doc.http, "%s: no meter of the doc has --http" % what
        argv = [re.sub(r"(127\.0\.0\.1|localhost):8080",
                       "127.0.0.1:%d" % doc.http, w) for w in words]
        return run(argv, doc.h.tmp, env, want, what)
    if prog == "mosquitto":
        doc.start_broker(H.free_port())
        return ""
    if prog == "mosquitto_sub":
        argv = localize_broker(doc, words)
        sub = doc.h.start(argv, name="mosquitto_sub", stdin=False)
        line = sub.readline(timeout=30)
        assert line, "%s: nothing arrived:\n%s" % (what, sub.stderr())
        sub.stop()
        return line + "\n"
    if prog == "mosquitto_pub":
        return run(localize_broker(doc, words), doc.h.tmp, want=want,
                   what=what)
    if prog in ("scripts/setup", "scripts/run", "scripts/firmware"):
        missing = H.missing_packages(ROOT)
        if missing:
            raise H.Skip("scripts/setup would install " + " ".join(missing))
        env["BUILDDIR"] = BUILD
        if prog == "scripts/setup":
            return run([os.path.join(ROOT, prog)] + words[1:], ROOT, env,
                       want, what)
        if prog == "scripts/firmware":
            out = words[1:] or [os.path.join(BUILD, "firmware")]
            return run([os.path.join(ROOT, prog)] + out, ROOT, env, want,
                       what)
        # its defaults (KPM31C_DEFAULT_*), made private
        env["KPM31C_DEFAULT_RTU"] = doc.h.path("tty-run")
        args, _ = doc.localize_sim(words[1:])
        doc.serve([os.path.join(ROOT, prog)] + args, "scripts-run", env)
        return ""
    if prog in ("meson", "ninja") and words[1:2] in (["setup"], ["-C"]):
        argv = [BUILD if w == "build" else w for w in words]
        return run(argv, ROOT, env, want, what)
    raise AssertionError("%s: no rule runs %r: give it one in this test, "
                         "or mark it <!-- not run ... -->" % (what, line))


# --------------------------------------------------------------------------
# blocks


def check_output(b, out):
    lang, want = b.expect
    if lang == "text":
        for line in want.strip().splitlines():
            assert line.strip() in out, "%s: %r not in the output:\n%s" % (
                b.where(), line.strip(), out)
        outputs_checked[0] += 1


def check_dump(doc, b, lines):
    """A ```json block after a command that writes --dump FILE."""
    files = [w for c, _ in lines for k, w in enumerate(shlex.split(
        c, comments=True)) if k and shlex.split(c, comments=True)[k - 1]
        == "--dump"]
    assert files, "%s: a json block after a command without --dump" % (
        b.where())
    want = json.loads(re.sub(r',\s*"\.\.\.":\s*[^,}]+', "", b.expect[1]))
    with open(os.path.join(doc.h.tmp, files[-1])) as f:
        got = json.load(f)

    def same(w, g, path):
        if isinstance(w, dict):
            assert isinstance(g, dict), (b.where(), path, g)
            for k, v in w.items():
                assert k in g, "%s: %s%s not in the dump" % (b.where(),
                                                             path, k)
                same(v, g[k], path + k + ".")
        else:
            assert w == g, "%s: %s is %r in the dump, %r in the doc" % (
                b.where(), path, g, w)
    same(want, got, "")
    outputs_checked[0] += 1


def run_sh(doc, b):
    whole, partial = b.not_run()
    lines = commands(b.body)
    out = ""
    for line, comment in lines:
        what = "%s: %s" % (b.where(), line)
        prefix = next((p for p in partial if line.startswith(p)), None)
        shown = " ".join(shlex.quote(w) for w in shlex.split(
            line, comments=True))
        if prefix is not None:
            skipped.append("%s: %s: %s" % (b.where(), shown,
                                           partial[prefix]))
            continue
        try:
            out += run_command(doc, line, comment, what)
        except H.Skip as e:
            skipped.append("%s: %s: %s" % (b.where(), shown, e))
            return
        commands_run[0] += 1
    if b.expect and b.expect[0] == "json":
        check_dump(doc, b, lines)
    elif b.expect:
        check_output(b, out)
    ran["sh"] += 1


def run_lua(doc, b):
    d = doc.h.path("lua")
    if not os.path.isdir(d):
        for sub in ("data", "lib"):
            shutil.copytree(os.path.join(ROOT, "scenarios", sub),
                            os.path.join(d, sub))
    body = b.body
    if b.fragment():
        body = ('local m = meter(1)\nm:load{ U = 230, I = 5, PF = 1 }\n'
                'advance("1s")\n' + body)
    with open(os.path.join(d, "example.lua"), "w") as f:
        f.write(body)
    r = subprocess.run([S.exe(), "--headless", "example.lua", "-q",
                        "--speed", "max"], cwd=d, capture_output=True,
                       text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    want = exits(re.search(r"--.*exits \d|$", body).group(0))
    assert r.returncode == want, "%s: exit %d, not %d\n%s\n%s" % (
        b.where(), r.returncode, want, r.stdout, r.stderr)
    if b.expect and b.expect[0] == "text":
        assert r.stdout == b.expect[1], "%s: printed\n%s\nnot\n%s" % (
            b.where(), r.stdout, b.expect[1])
        outputs_checked[0] += 1
    ran["lua"] += 1


def run_python(doc, b):
    port, _ = doc.meter()
    code = re.sub(r"\bport=1502\b", "port=%d" % port, b.body)
    r = subprocess.run(["/usr/bin/python3", "-c", code], cwd=doc.h.tmp,
                       capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "%s: exit %d\n%s" % (b.where(), r.returncode,
                                                   r.stderr)
    if b.expect:
        check_output(b, r.stdout + r.stderr)
    ran["python"] += 1


def run_doc(name):
    doc = Doc(name)
    bl = blocks(os.path.join(ROOT, name))
    doc.first_lua = next((b.body for b in bl if b.lang == "lua"), None)
    try:
        for b in bl:
            if b.lang in ("sh", "lua", "python"):
                whole, _ = b.not_run()
                if whole:
                    skipped.append("%s: %s block: %s" % (b.where(), b.lang,
                                                         whole))
                    continue
                {"sh": run_sh, "lua": run_lua, "python": run_python}[
                    b.lang](doc, b)
            elif b.lang == "json" and b.file_name():
                with open(doc.h.path(b.file_name()), "w") as f:
                    f.write(b.body)
            elif b.lang == "":
                first = (b.body.split() or [""])[0]
                assert first not in COMMANDS and not first.startswith(
                    ("build/", "scripts/")), (
                    "%s: an untagged block of commands: tag it ```sh"
                    % b.where())
        doc.finish()
    finally:
        doc.h.close()


DOC_FILES = ["README.md"] + sorted(
    "docs/" + f for f in os.listdir(DOCS) if f.endswith(".md"))

for _name in DOC_FILES:
    globals()["test_examples_of_" + re.sub(r"\W", "_", _name)] = (
        lambda n=_name: run_doc(n))


def test_every_example_ran_or_says_why_not():
    print("# ran: %d sh blocks (%d commands), %d lua, %d python; "
          "%d outputs checked" % (ran["sh"], commands_run[0], ran["lua"],
                                  ran["python"], outputs_checked[0]))
    print("# not run: %d" % len(skipped))
    for s in skipped:
        print("#   " + s)
    assert ran["lua"] >= 10 and ran["python"] >= 2 and ran["sh"] >= 12, ran


if __name__ == "__main__":
    H.main(globals())
