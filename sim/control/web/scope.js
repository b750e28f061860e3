// The scope: the samples the meter's ADC takes (GET .../scope, V and A
// scaled), two cycles from a rising zero crossing of the voltage, as a
// triggered oscilloscope shows them. Voltage and current each fill the
// height on their own scale.

export function drawScope(canvas, s) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const cycle = Math.round(s.sample_rate / s.f);
  let start = 0;
  for (let k = 1; k <= cycle && k < s.v.length; k++)
    if (s.v[k - 1] < 0 && s.v[k] >= 0) { start = k; break; }
  const n = Math.min(2 * cycle, s.v.length - start);
  const mid = h / 2, half = h / 2 - 12;
  g.strokeStyle = "#2b3645";
  g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const x = w * k / 4;
    g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
  }
  g.beginPath(); g.moveTo(0, mid); g.lineTo(w, mid); g.stroke();
  const trace = (data, color, width) => {
    const peak = Math.max(1e-9, ...data.slice(start, start + n).map(Math.abs));
    g.strokeStyle = color;
    g.lineWidth = width;
    g.beginPath();
    for (let k = 0; k < n; k++) {
      const x = k / (n - 1) * w, y = mid - data[start + k] / peak * half;
      k ? g.lineTo(x, y) : g.moveTo(x, y);
    }
    g.stroke();
    return peak;
  };
  const vp = trace(s.v, "#ffd23f", 7);   // under the current, wider: both show in phase
  const ip = trace(s.i, "#4cc9f0", 3);
  g.font = "18px system-ui, sans-serif";
  g.fillStyle = "rgba(15, 21, 29, 0.85)";
  g.fillRect(4, 4, 200, 52);
  g.fillRect(w - 330, h - 32, 326, 28);
  g.fillStyle = "#ffd23f";
  g.fillText(`V  peak ${vp.toFixed(1)} V`, 10, 22);
  g.fillStyle = "#4cc9f0";
  g.fillText(`I  peak ${ip.toFixed(2)} A`, 10, 46);
  g.fillStyle = "#9fb0c3";
  g.textAlign = "right";
  g.fillText(`${s.f.toFixed(2)} Hz · ${s.sample_rate} samples/s · 2 cycles`, w - 10, h - 10);
  g.textAlign = "left";
}
