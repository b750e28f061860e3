// The controls: the load connected to the meter (PUT .../load) and the
// Modbus faults of the process (POST/DELETE /api/v1/faults), the same
// routes a CI job calls.

import { call, get } from "./api.js";

export function wireLoad(form, meter, say) {
  const path = `/api/v1/meters/${meter}/load`;
  const fill = (l) => {
    for (const k of ["U", "I", "PF", "F"]) form.elements[k].value = l[k];
    form.elements.DIR.value = l.DIR;
  };
  // what is connected now, unless someone is typing in the form
  const show = (l) => { if (!form.contains(document.activeElement)) fill(l); };
  get(path).then(fill).catch(() => {});
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const k of ["U", "I", "PF", "F"]) body[k] = Number(form.elements[k].value);
    body.DIR = form.elements.DIR.value;
    try {
      fill(await call("PUT", path, body));
      say(`load: U ${body.U} V, I ${body.I} A, PF ${body.PF}, ${body.F} Hz, ${body.DIR}`);
    } catch (e) {
      say(e.message, "error");
    }
  });
  for (const b of form.querySelectorAll("[data-preset]")) {
    b.addEventListener("click", (ev) => {
      ev.preventDefault();
      const [U, I, PF, F, DIR] = b.dataset.preset.split(",");
      fill({ U, I, PF, F, DIR });
      form.requestSubmit();
    });
  }
  return show;
}

export function wireFaults(form, list, say) {
  const show = async () => {
    const { faults } = await get("/api/v1/faults");
    list.textContent = "";
    if (!faults.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "no fault: every request answered";
      list.appendChild(li);
    }
    for (const f of faults) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.textContent = "remove";
      b.addEventListener("click", async () => {
        await call("DELETE", `/api/v1/faults/${f.id}`).catch((e) => say(e.message, "error"));
        show();
      });
      li.append(`#${f.id}  ${f.spec}  `, b);
      list.appendChild(li);
    }
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const spec = (ev.submitter && ev.submitter.dataset.spec) || form.elements.spec.value;
    try {
      await call("POST", "/api/v1/faults", { spec });
      say(`fault: ${spec}`);
    } catch (e) {
      say(e.message, "error");
    }
    show();
  });
  form.querySelector("[data-clear]").addEventListener("click", async (ev) => {
    ev.preventDefault();
    await call("DELETE", "/api/v1/faults").catch((e) => say(e.message, "error"));
    say("faults cleared");
    show();
  });
  return show;
}
