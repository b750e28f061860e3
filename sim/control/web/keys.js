// The three keys, clickable and holdable: a press goes to the meter when
// the button goes down and its release when it comes up (POST .../keys
// with "action"), so holding ← for 3 s opens the password page as on the
// meter. Keyboard: ← or h, ↓ or j, Enter.

import { call } from "./api.js";

export function wireKeys(root, meter, onFrame) {
  const base = `/api/v1/meters/${meter}/keys`;
  const buttons = {};
  const edge = async (key, action) => {
    buttons[key].classList.toggle("down", action === "press");
    try { onFrame(await call("POST", base, { key, action })); } catch (e) { onFrame(null, e); }
  };
  for (const b of root.querySelectorAll("[data-key]")) {
    const key = b.dataset.key;
    buttons[key] = b;
    let held = false;
    const down = (ev) => {
      ev.preventDefault();
      if (held) return;
      held = true;
      b.classList.add("holding");
      edge(key, "press");
    };
    const up = () => {
      if (!held) return;
      held = false;
      b.classList.remove("holding");
      edge(key, "release");
    };
    b.addEventListener("pointerdown", down);
    b.addEventListener("pointerup", up);
    b.addEventListener("pointerleave", up);
    b.addEventListener("pointercancel", up);
    b.addEventListener("keydown", (ev) => { if (ev.key === " " && !ev.repeat) down(ev); });
    b.addEventListener("keyup", (ev) => { if (ev.key === " ") up(); });
  }
  const map = { ArrowLeft: "left", h: "left", ArrowDown: "down", j: "down", Enter: "enter" };
  const held = new Set();
  document.addEventListener("keydown", (ev) => {
    const key = map[ev.key];
    if (!key || ev.target.closest("input, select, textarea, button")) return;
    ev.preventDefault();
    if (held.has(key)) return;          // the keyboard's own repeat
    held.add(key);
    edge(key, "press");
  });
  document.addEventListener("keyup", (ev) => {
    const key = map[ev.key];
    if (!key || !held.has(key)) return;
    held.delete(key);
    edge(key, "release");
  });
}
