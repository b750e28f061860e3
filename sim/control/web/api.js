// The control API from the browser (docs/http.md): JSON calls and the
// event stream, with the bearer token when the process asks for one.
// The stream is read with fetch (not EventSource) so that the token can
// go in a header; it reconnects by itself.

const TOKEN_KEY = "kpm31c-token";

function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  return sessionStorage.getItem(TOKEN_KEY);
}

function headers(json) {
  const h = {};
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

// One call: the parsed answer, or an Error carrying the API's message.
export async function call(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (r.status === 401) {
    const t = prompt("This simulator asks for its bearer token (--http-token):");
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!r.ok) {
    const err = new Error((data && data.error) || r.status + " " + r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

export const get = (path) => call("GET", path);

// The event stream: onEvent(kind, data) for each event; onState(true /
// false) as the connection comes and goes.
export function events(kinds, onEvent, onState) {
  const url = "/api/v1/events" + (kinds ? "?events=" + kinds.join(",") : "");
  let stopped = false;

  async function run() {
    while (!stopped) {
      try {
        const r = await fetch(url, { headers: headers(false), cache: "no-store" });
        if (!r.ok || !r.body) throw new Error("stream " + r.status);
        onState(true);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let kind = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) kind = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) {
              try { onEvent(kind, JSON.parse(data)); } catch (e) { console.error(e); }
            }
          }
        }
      } catch (e) {
        /* the process went away or restarts: try again */
      }
      onState(false);
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
  run();
  return () => { stopped = true; };
}

// Poll fn every ms (after each answer, so a slow process is not flooded).
export function every(ms, fn) {
  let stopped = false;
  async function loop() {
    while (!stopped) {
      try { await fn(); } catch (e) { /* shown by the caller's state */ }
      await new Promise((ok) => setTimeout(ok, ms));
    }
  }
  loop();
  return () => { stopped = true; };
}
