"""The browser face (docs/http.md, "The face") in a real browser: headless
Chromium driven by chromedriver (Debian's chromium, chromium-driver and
python3-selenium) against kpm31c-sim --http.

Opens the fleet page and clicks through to a meter's face; reads the
glass back from the SVG segment by segment (decoded with the firmware's
font, as test_tui.py reads the terminal) and checks it against the API's
glass text and the voltage over Modbus; clicks and holds the keys through
the password menu (hold the left key 3 s, 6666, the parameter list) and
back to the measurement pages; changes the load with the page's form and
sees P change on the page. Saves a screenshot a step into BUILD_ROOT's
meson-logs/screenshots/ (printed as TAP comments).

Skipped (1..0 # SKIP) when Chromium, chromedriver or Selenium are
missing. No timed assertions: every check polls until what it expects
appears, with a generous deadline.
Usage: test_web.py KPM31C_SIM [BUILD_ROOT]"""

import json
import os
import shutil
import sys
import time
import urllib.request

import harness as H
import sim as S

S.EXE = sys.argv[1] if len(sys.argv) > 1 else None
BUILD = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(
    os.path.dirname(os.path.abspath(S.EXE or ".")))
SHOTS = os.path.join(BUILD, "meson-logs", "screenshots")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DEADLINE = 30.0
LOAD = "U=230,I=5,PF=0.95"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
except ImportError:
    webdriver = None

# core/segment.c's font, the same table the terminal test decodes with
from test_tui import GLYPH  # noqa: E402

SEGS = "abcdefg"


def missing():
    """What this test needs and does not find, or None."""
    if webdriver is None:
        return "python3-selenium is not installed"
    for path, pkg in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return "%s is not installed (%s)" % (pkg, path)
    return None


class Face:
    """kpm31c-sim with --http and a headless Chromium on its pages."""

    def __init__(self, h, *args):
        self.h = h
        self.http = H.free_port()
        self.sim = S.Sim(h, "--http", "127.0.0.1:%d" % self.http, "--load",
                         LOAD, *args)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1920,1080",
                  "--user-data-dir=" + h.path("chromium-profile")):
            opts.add_argument(a)
        service = Service(DRIVER, log_path=h.path("chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=opts)
        h.on_close(self.driver.quit)
        # the page's viewport 1920x1080, the big screen it is made for
        self.driver.set_window_size(1920, 1080)
        inner = self.driver.execute_script("return window.innerHeight")
        self.driver.set_window_size(1920, 1080 + 1080 - inner)
        self.driver.set_page_load_timeout(DEADLINE)
        self.driver.set_script_timeout(DEADLINE)
        self.step = 0

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http, path)

    def api(self, path):
        with urllib.request.urlopen(self.url(path), timeout=DEADLINE) as r:
            return json.loads(r.read())

    def shot(self, name):
        """Save the page as meson-logs/screenshots/web-NN-name.png."""
        self.step += 1
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, "web-%02d-%s.png" % (self.step, name))
        self.driver.save_screenshot(path)
        print("# screenshot: %s" % path, flush=True)
        return path

    def glass(self):
        """The glass as drawn: (text, icons) decoded from the lit SVG
        segments, the way seg_row_text spells a frame."""
        lit = self.driver.execute_script("""
            const svg = document.querySelector('#glass svg');
            if (!svg) return null;
            const pos = [...svg.querySelectorAll('[data-pos]')].map(
                p => [...p.querySelectorAll('.seg.on')].map(s => s.dataset.seg));
            const minus = !!svg.querySelector('[data-seg=minus].on');
            const icons = [...svg.querySelectorAll('.icon.on')].map(t => t.textContent);
            return [pos, minus, icons];""")
        if not lit:
            return None, []
        pos, minus, icons = lit
        text = "-" if minus else ""
        for segs in pos:
            bits = sum(1 << SEGS.index(s) for s in segs if s in SEGS)
            text += GLYPH.get(bits, "?") + ("." if "dp" in segs else "")
        return text, icons

    def wait_glass(self, text, icon=None):
        def ok():
            t, icons = self.glass()
            return t == text and (icon is None or icon in icons)
        assert H.wait_until(ok, timeout=DEADLINE, step=0.1), \
            (text, icon, self.glass(), self.sim.proc.stderr()[-2000:])

    def key(self, name):
        return self.driver.find_element(By.CSS_SELECTOR,
                                        '[data-key="%s"]' % name)

    def press(self, name, times=1):
        for _ in range(times):
            self.key(name).click()

    def text_of(self, id_):
        return self.driver.find_element(By.ID, id_).text


def test_face_glass_keys_password_and_load():
    h = H.harness()
    f = Face(h, "--meters", "2")
    d = f.driver

    # the fleet: a tile per meter, each with its glass
    d.get(f.url("/"))
    assert H.wait_until(lambda: len(d.find_elements(
        By.CSS_SELECTOR, ".tile .glass")) == 2, timeout=DEADLINE), \
        d.page_source[:2000]
    assert H.wait_until(lambda: d.find_element(
        By.CSS_SELECTOR, '.tile [data-v="p"]').text not in ("", "–"),
        timeout=DEADLINE)
    assert H.wait_until(lambda: d.execute_script(
        "return [...document.querySelectorAll('.tile svg')]"
        ".every(s => s.dataset.text === 'U   230.0')"), timeout=DEADLINE)
    f.shot("fleet")
    d.find_element(By.CSS_SELECTOR, '.tile[data-meter="0"]').click()
    assert H.wait_until(lambda: d.current_url.endswith("/meter/0"),
                        timeout=DEADLINE), d.current_url

    # the glass shows what the firmware computes: the API's glass text
    # and the voltage Modbus reads
    f.wait_glass("U   230.0", icon="V")
    assert f.api("/api/v1/meters/0/lcd")["text"] == "U   230.0"
    u = f.sim.float(0x30)
    assert "U   %5.1f" % u == f.glass()[0], (u, f.glass())
    assert H.wait_until(lambda: f.text_of("v-u") == "230.0",
                        timeout=DEADLINE), f.text_of("v-u")
    # the Modbus read shows up in the traffic panel
    assert H.wait_until(lambda: "tcp #1 03 read  0x0030 x2 → ok" in
                        f.text_of("modbus"), timeout=DEADLINE), \
        f.text_of("modbus")
    f.shot("face")

    # pages: down, then back up
    f.press("down")
    f.wait_glass("I   5.000", icon="A")
    f.press("left")
    f.wait_glass("U   230.0", icon="V")

    # hold the left key: after 3 s the password page
    ActionChains(d).click_and_hold(f.key("left")).perform()
    f.wait_glass("CodE0000", icon="SET")
    ActionChains(d).release().perform()
    f.shot("password")
    for k, text in enumerate(("CodE6000", "CodE6600", "CodE6660",
                              "CodE6666")):
        if k:
            f.press("left")             # the next digit
        f.press("down", 6)
        f.wait_glass(text)
    f.press("enter")
    f.wait_glass("Addr 001", icon="SET")
    f.shot("settings")

    # back: the parameter list's End, ENTER, the measurement pages
    for _ in range(40):
        if (f.glass()[0] or "").startswith("End"):
            break
        f.press("left")
        time.sleep(0.1)
    f.wait_glass("End     ")
    f.press("enter")
    f.wait_glass("U   230.0", icon="V")
    f.shot("back")

    # the load from the page's form: P follows on the page
    p0 = float(d.find_element(By.ID, "face").get_attribute("data-p"))
    assert abs(p0 - 1092.5) < 5, p0
    form = d.find_element(By.ID, "load")
    field = form.find_element(By.NAME, "I")
    field.click()                       # focused: the page leaves it be
    field.clear()
    field.send_keys("10")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()

    def p_now():
        v = d.find_element(By.ID, "face").get_attribute("data-p")
        return v and abs(float(v) - 2185.0) < 5
    assert H.wait_until(p_now, timeout=DEADLINE, step=0.2), \
        d.find_element(By.ID, "face").get_attribute("data-p")
    assert H.wait_until(lambda: f.text_of("v-p") == "2185",
                        timeout=DEADLINE), f.text_of("v-p")
    assert f.api("/api/v1/meters/0/load")["I"] == 10.0
    f.shot("load")


if __name__ == "__main__":
    why = missing()
    if why:
        print("1..0 # SKIP %s" % why)
        sys.exit(0)
    H.main(globals())
