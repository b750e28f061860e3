// The glass: the "7+1" segment LCD drawn in SVG from the frame the
// firmware computes (GET /api/v1/meters/{m}/lcd), segment by segment.
// Each digit position is a <g data-pos="k">; each segment a polygon with
// data-seg="a".."g" or "dp", class "on" when lit.

const NS = "http://www.w3.org/2000/svg";
const W = 52, H = 96, T = 11, GAP = 2.5;  // a digit: width, height, stroke
const PITCH = 84;                          // from one position to the next
const X0 = 70, Y0 = 52;                    // position 0's top left
const SEGS = ["a", "b", "c", "d", "e", "f", "g"];

// enum lcd_icon's names as the API gives them, and where they sit
const TOP = [["T1", "T1"], ["T2", "T2"], ["T3", "T3"], ["T4", "T4"],
  ["total", "TOTAL"], ["imp", "IMP"], ["exp", "EXP"], ["last", "LAST"]];
const BOTTOM = [["clock", "CLOCK", 40], ["set", "SET", 170], ["relay_off", "RELAY OFF", 270],
  ["comm", "COM", 450], ["4G", "4G", 560], ["alarm", "ALARM", 650]];
const UNITS = [["V", "V"], ["A", "A"], ["kW", "kW"], ["kvar", "kvar"],
  ["kVA", "kVA"], ["Hz", "Hz"], ["PF", "PF"], ["kWh", "kWh"], ["kvarh", "kvarh"]];

function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// A bar between two points on its axis, pointed at both ends.
function hbar(x1, x2, y) {
  const h = T / 2;
  return `${x1},${y} ${x1 + h},${y - h} ${x2 - h},${y - h} ${x2},${y} ${x2 - h},${y + h} ${x1 + h},${y + h}`;
}
function vbar(x, y1, y2) {
  const h = T / 2;
  return `${x},${y1} ${x + h},${y1 + h} ${x + h},${y2 - h} ${x},${y2} ${x - h},${y2 - h} ${x - h},${y1 + h}`;
}

const SHAPES = {
  a: hbar(GAP, W - GAP, 0),
  b: vbar(W, GAP, H / 2 - GAP),
  c: vbar(W, H / 2 + GAP, H - GAP),
  d: hbar(GAP, W - GAP, H),
  e: vbar(0, H / 2 + GAP, H - GAP),
  f: vbar(0, GAP, H / 2 - GAP),
  g: hbar(GAP, W - GAP, H / 2),
};

export class Glass {
  // parent: where the <svg> goes; small: a tile's glass (no icon rows)
  constructor(parent, { small = false } = {}) {
    const width = X0 + 8 * PITCH + 120;
    const height = small ? H + 2 * Y0 - 40 : H + 2 * Y0 + 40;
    const y0 = small ? Y0 - 20 : Y0;
    this.svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "glass",
      role: "img", "aria-label": "LCD" }, null);
    el("rect", { x: 2, y: 2, width: width - 4, height: height - 4, rx: 14,
      class: "glass-bg" }, this.svg);
    // the whole glass leans a little, as 7-segment LCDs do
    const g = el("g", { transform: `translate(0 ${y0}) skewX(-6) translate(${H * 0.1} 0)` }, this.svg);
    this.minus = el("polygon", { points: hbar(14, 50, H / 2), class: "seg",
      "data-seg": "minus" }, g);
    this.segs = [];
    for (let k = 0; k < 8; k++) {
      const pos = el("g", { "data-pos": k,
        transform: `translate(${X0 + k * PITCH} 0)` }, g);
      const segs = {};
      for (const s of SEGS)
        segs[s] = el("polygon", { points: SHAPES[s], class: "seg", "data-seg": s }, pos);
      segs.dp = el("circle", { cx: W + 14, cy: H, r: 7, class: "seg", "data-seg": "dp" }, pos);
      this.segs.push(segs);
    }
    this.icons = {};
    // the units share one place right of the last digit
    this.unit = el("text", { x: X0 + 8 * PITCH + 4, y: y0 + H, class: "icon unit on",
      "data-icon": "unit" }, this.svg);
    if (!small) {
      TOP.forEach(([key, label], j) => {
        const t = el("text", { x: 40 + j * 96, y: 36, class: "icon", "data-icon": key }, this.svg);
        t.textContent = label;
        this.icons[key] = t;
      });
      BOTTOM.forEach(([key, label, x]) => {
        const t = el("text", { x, y: height - 18, class: "icon",
          "data-icon": key }, this.svg);
        t.textContent = label;
        this.icons[key] = t;
      });
    }
    parent.appendChild(this.svg);
  }

  // frame: the API's {digits: [8 x SEG bits], minus, icons: [names]}
  show(frame) {
    this.minus.classList.toggle("on", !!frame.minus);
    frame.digits.forEach((bits, k) => {
      SEGS.forEach((s, b) => this.segs[k][s].classList.toggle("on", !!(bits & (1 << b))));
      this.segs[k].dp.classList.toggle("on", !!(bits & 0x80));
    });
    const lit = new Set(frame.icons);
    for (const [key, t] of Object.entries(this.icons)) t.classList.toggle("on", lit.has(key));
    this.unit.textContent = UNITS.filter(([k]) => lit.has(k)).map(([, l]) => l).join(" ");
    this.svg.dataset.text = frame.text;
  }
}
