// The fleet (/): a tile per meter with its glass and live values; a click
// opens its face. Values come from the event stream's telemetry (the
// first 64 meters); glasses are refreshed for the first GLASSES meters of
// this process (a shard's first, whatever their index in the fleet).

import { get, events, every } from "./api.js";
import { Glass } from "./lcd.js";

const GLASSES = 32;
const $ = (id) => document.getElementById(id);
const tiles = [];

function tile(m, pos) {
  const a = document.createElement("a");
  a.className = "tile";
  a.href = `/meter/${m.index}`;
  a.dataset.meter = m.index;
  a.innerHTML = `<h2>Meter ${m.index + 1} <small>#${m.serial} · slave ${m.slave}</small></h2>
    <div class="tile-glass"></div>
    <p class="tile-values"><b data-v="p">–</b> W</p>
    <p class="tile-more"><span data-v="u">–</span> V · <span data-v="i">–</span> A · <span data-v="kwh">–</span> kWh</p>
    <p class="tile-state"><span data-v="relay">relay –</span> · <span data-v="rate">–</span></p>`;
  $("fleet").appendChild(a);
  const t = { el: a, glass: pos < GLASSES ? new Glass(a.querySelector(".tile-glass"), { small: true }) : null };
  tiles[m.index] = t;
  return t;
}

const put = (t, key, text) => { t.el.querySelector(`[data-v="${key}"]`).textContent = text; };

async function load() {
  const { meters, shard } = await get("/api/v1/meters");
  // a shard names its part of the fleet (its meters keep their global index)
  const part = shard && shard.count > 1 ? ` · shard ${shard.index + 1}/${shard.count}: meters ${shard.first + 1}..${shard.end} of ${shard.fleet}` : "";
  $("title").textContent = `KPM31C fleet · ${meters.length} meter${meters.length === 1 ? "" : "s"}${part}`;
  meters.forEach((m, pos) => {
    const t = tiles[m.index] || tile(m, pos);
    put(t, "relay", "relay " + m.relay);
    put(t, "rate", m.rate);
    t.el.classList.toggle("alert", m.relay !== "closed");
  });
}

load();
every(2000, load);
every(500, async () => {
  await Promise.all(tiles.filter((t) => t && t.glass).map(async (t) =>
    t.glass.show(await get(`/api/v1/meters/${t.el.dataset.meter}/lcd`))));
});
every(1000, async () => {
  const c = await get("/api/v1/clock");
  $("vclock").textContent = `${c.time.replace("T", " ")}  ·  ${c.paused ? "paused" : c.speed === "max" ? "max speed" : "×" + c.speed}`;
});

events(["telemetry", "relay", "caption"], (kind, e) => {
  const t = tiles[e.meter];
  if (kind === "caption") {
    $("caption-text").textContent = e.text;
    $("caption").hidden = !e.text;
  } else if (t && kind === "telemetry") {
    put(t, "p", e.p.toFixed(0)); put(t, "u", e.u.toFixed(1));
    put(t, "i", e.i.toFixed(2)); put(t, "kwh", e.import_kwh.toFixed(3));
  } else if (t && kind === "relay") {
    put(t, "relay", "relay " + e.state);
    t.el.classList.toggle("alert", e.state !== "closed");
  }
}, (up) => {
  $("link").textContent = up ? "live" : "reconnecting…";
  $("link").className = up ? "link up" : "link down";
});
