// Bounded scrolling lists: the Modbus frames, the MQTT messages and the
// log as the event stream reports them, newest at the bottom.

const MAX = 200;

export class Lines {
  constructor(list, empty) {
    this.list = list;
    this.list.textContent = "";
    this.empty = document.createElement("li");
    this.empty.className = "empty";
    this.empty.textContent = empty;
    this.list.appendChild(this.empty);
  }

  add(text, kind = "") {
    this.empty.remove();
    const stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    const li = document.createElement("li");
    li.textContent = text;
    if (kind) li.className = kind;
    this.list.appendChild(li);
    while (this.list.children.length > MAX) this.list.firstChild.remove();
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }
}

const EXCEPTIONS = { 1: "illegal function", 2: "illegal address", 3: "illegal value",
  4: "device failure", 6: "busy", 11: "no such unit" };

const hhmmss = (t) => (t || "").slice(11, 19);

// One "modbus" event as one line: "12:00:01 tcp #1 03 read  0x0030 x14 → ok"
export function modbusLine(e) {
  const fc = e.function === undefined ? "--" : e.function.toString(16).padStart(2, "0").toUpperCase();
  let what = fc;
  if (e.address !== undefined) {
    const a = "0x" + e.address.toString(16).padStart(4, "0").toUpperCase();
    if (e.function === 3) what = `${fc} read  ${a} x${e.count}`;
    else if (e.function === 16) what = `${fc} write ${a} x${e.count}`;
    else if (e.function === 6) what = `${fc} write ${a} = ${e.value}`;
  }
  let answer = "ok", kind = "";
  if (e.reply === "none") { answer = "no reply"; kind = "warn"; }
  else if (typeof e.reply === "object") {
    answer = EXCEPTIONS[e.reply.exception] || "exception " + e.reply.exception;
    kind = "warn";
  }
  return [`${hhmmss(e.time)} ${e.transport} #${e.slave} ${what} → ${answer}`, kind];
}

export function mqttLine(e) {
  const arrow = e.direction === "out" ? "->" : "<-";
  return `${arrow} ${e.topic}  ${e.payload}${e.length > e.payload.length ? " ..." : ""}`;
}
