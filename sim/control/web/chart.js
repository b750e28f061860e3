// A rolling chart on a canvas: a few series against time, the newest on
// the right, each on its own scale (its axis labelled in its colour).

// An axis label that fits its 70 px: thousands as k, millions as M.
function short(v, digits) {
  const a = Math.abs(v);
  if (a >= 1e7) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return v.toFixed(digits);
}

export class Rolling {
  // series: [{name, unit, color, digits}]; span: seconds shown
  constructor(canvas, series, span = 300) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.span = span;
  }

  // One sample of every series at t (seconds); values in series order.
  add(t, values) {
    values.forEach((v, k) => {
      const pts = this.series[k].points;
      if (pts.length && t < pts[pts.length - 1][0]) pts.length = 0; // time went back
      pts.push([t, v]);
      while (pts.length && pts[0][0] < t - this.span) pts.shift();
    });
    this.draw();
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== w * dpr) { c.width = w * dpr; c.height = h * dpr; }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 78, right = w - 78, top = 14, bottom = h - 30;
    const all = this.series.flatMap((s) => s.points.map((p) => p[0]));
    if (!all.length) return;
    const t1 = Math.max(...all), t0 = t1 - this.span;
    g.font = "18px system-ui, sans-serif";
    g.strokeStyle = "#2b3645";
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = top + (bottom - top) * k / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    }
    g.fillStyle = "#9fb0c3";
    g.textAlign = "center";
    for (let k = 0; k <= 2; k++) {
      const x = left + (right - left) * k / 2;
      g.fillText(k === 2 ? "now" : "−" + +(this.span * (2 - k) / 2 / 60).toFixed(1) + " min", x, h - 6);
    }
    this.series.forEach((s, k) => {
      if (!s.points.length) return;
      let lo = Math.min(...s.points.map((p) => p[1]));
      let hi = Math.max(...s.points.map((p) => p[1]));
      if (hi - lo < (s.minSpan || 1e-9)) { const m = (hi + lo) / 2; lo = m - (s.minSpan || 1) / 2; hi = m + (s.minSpan || 1) / 2; }
      const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
      const y = (v) => bottom - (v - lo) / (hi - lo) * (bottom - top);
      const x = (t) => left + (t - t0) / this.span * (right - left);
      g.strokeStyle = s.color;
      g.lineWidth = 3;
      g.beginPath();
      s.points.forEach(([t, v], j) => (j ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
      g.stroke();
      g.fillStyle = s.color;
      g.textAlign = k === 0 ? "right" : "left";
      const ax = k === 0 ? left - 8 : right + 8;
      g.fillText(short(hi, s.digits), ax, top + 14);
      g.fillText(short(lo, s.digits), ax, bottom);
      g.fillText(s.unit, ax, (top + bottom) / 2 + 6);
    });
  }
}
