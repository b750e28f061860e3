// One meter's face (/meter/{m}): the glass and its keys, the status, live
// values and their rolling chart, the scope, the Modbus and MQTT traffic,
// the log, the story's caption, and the controls.

import { get, events, every } from "./api.js";
import { Glass } from "./lcd.js";
import { wireKeys } from "./keys.js";
import { Rolling } from "./chart.js";
import { drawScope } from "./scope.js";
import { Lines, modbusLine, mqttLine } from "./traffic.js";
import { wireLoad, wireFaults } from "./controls.js";

const $ = (id) => document.getElementById(id);
const meterName = decodeURIComponent(location.pathname.split("/")[2] || "0");
const base = `/api/v1/meters/${meterName}`;
let index = null, serial = null;

const glass = new Glass($("glass"));
const showFrame = (f, err) => {
  if (f) glass.show(f);
  $("glass-state").textContent = err ? err.message : "";
};
wireKeys($("keys"), meterName, showFrame);
every(200, async () => showFrame(await get(base + "/lcd")));

const chart = new Rolling($("chart"), [
  { name: "P", unit: "W", color: "#ff9f1c", digits: 0, minSpan: 10 },
  { name: "energy", unit: "Wh", color: "#2ec4b6", digits: 1, minSpan: 2 },
]);

const fmt = (v, d) => (v === undefined || v === null ? "–" : Number(v).toFixed(d));
const set = (id, text) => { const e = $(id); if (e.textContent !== text) e.textContent = text; };

every(1000, async () => {
  const m = await get(base);
  index = m.index; serial = m.serial;
  const x = m.measurements, en = m.energies;
  set("title", `Meter ${m.index + 1} · #${m.serial} · slave ${m.slave}`);
  set("v-u", fmt(x.u, 1)); set("v-i", fmt(x.i, 3)); set("v-p", fmt(x.p, 0));
  set("v-q", fmt(x.q, 0)); set("v-s", fmt(x.s, 0)); set("v-pf", fmt(x.pf, 3));
  set("v-f", fmt(x.f, 2)); set("v-imp", fmt(en.import_kwh, 3));
  set("v-exp", fmt(en.export_kwh, 3)); set("v-pulses", String(en.pulses));
  set("s-clock", m.time.replace("T", " "));
  set("s-rate", { sharp: "T1 sharp", peak: "T2 peak", flat: "T3 flat", valley: "T4 valley" }[m.rate] || m.rate);
  const closed = m.relay.state === "closed";
  set("s-relay", closed ? "closed" : "OPEN (" + m.relay.reasons.join(", ") + ")");
  $("s-relay").parentElement.classList.toggle("alert", !closed);
  set("s-credit", m.credit.prepaid ? fmt(m.credit.credit_wh / 1000, 2) + " kWh" : "off");
  $("s-credit").parentElement.classList.toggle("alert",
    m.credit.prepaid && m.credit.credit_wh <= m.credit.alarm_wh);
  showLoad(m.load);
  chart.add(performance.now() / 1000, [x.p, 1000 * (en.import_kwh - en.export_kwh)]);
  $("face").dataset.p = String(x.p);
});
every(3000, async () => {
  const s = await get(base + "/settings");
  const up = s.uplink === undefined ? s.communication?.uplink : s.uplink;
  set("s-4g", up === "mqtt" || up === true ? "Mqtt" : "dEbug");
});
every(1000, async () => {
  const c = await get("/api/v1/clock");
  set("vclock", `${c.time.replace("T", " ")}  ·  ${c.paused ? "paused" : c.speed === "max" ? "max speed" : "×" + c.speed}`);
});
every(400, async () => drawScope($("scope"), await get(base + "/scope")));

const modbus = new Lines($("modbus"), "(no Modbus frame yet)");
const mqtt = new Lines($("mqtt"), "(no MQTT message yet: --mqtt, and 4g_M Mqtt)");
const log = new Lines($("log"), "(no log line yet)");
const say = (text, kind = "") => log.add("web: " + text, kind);

const showLoad = wireLoad($("load"), meterName, say);
const showFaults = wireFaults($("faults"), $("fault-list"), say);
every(2000, showFaults);

// only the kinds shown: a fleet's pulses would crowd out the traffic
events(["modbus", "mqtt", "log", "caption", "relay", "settled"], (kind, e) => {
  const mine = e.meter === undefined || e.meter === index;
  if (kind === "modbus" && mine) modbus.add(...modbusLine(e));
  else if (kind === "mqtt" && mine) mqtt.add(mqttLine(e));
  else if (kind === "log") log.add(e.message, e.level === "info" || e.level === "debug" ? "" : e.level === "error" ? "error" : "warn");
  else if (kind === "caption") {
    set("caption-text", e.text);
    $("caption").hidden = !e.text;
  } else if (kind === "relay" && mine) log.add(`relay ${e.state} at ${e.time}`);
  else if (kind === "settled" && mine) log.add(`month-end settlement ${e.month_end}`);
}, (up) => {
  $("link").textContent = up ? "live" : "reconnecting…";
  $("link").className = up ? "link up" : "link down";
});
