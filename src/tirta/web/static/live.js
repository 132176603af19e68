/* tirta dashboard, live: server-sent events from /api/v1/stream refresh the open page as readings,
   events and job runs arrive; while the stream is down, tirta.js polls as before (the fallback). */
"use strict";
(function () {
  const t = window.tirta || (window.tirta = {});
  const body = document.body;
  const page = body.dataset.page;
  const pollMs = Math.max(1, Number(body.dataset.poll || 5)) * 1000;
  // at most one refresh per gap, whatever the burst of messages (the map's redraw takes a second or two)
  const GAP_MS = page === "map" ? 10000 : 1000;
  const WANTS = {  // which messages change which page
    overview: ["reading", "event"], map: ["reading", "event"], sensors: ["reading"],
    sensor: ["reading"], events: ["event"], status: ["reading", "event", "job"],
  };
  let last = 0, timer = null, pushes = 0;

  function say(text) {
    const el = document.getElementById("live-state");
    if (el) { el.textContent = text; }
    body.dataset.live = t.live ? "on" : "off";
  }

  async function update() {
    timer = null;
    last = Date.now();
    try {
      if (page === "status") { renderStatus(await t.getJSON("/api/v1/dashboard/status")); }
      else if (t.refresh) { await t.refresh(); }
      body.dataset.pushed = String(++pushes);  // tests and benchmarks/live.py watch this
    } catch (e) { if (t.showError) { t.showError(e); } else { console.warn("live:", e); } }
  }

  function schedule() {
    if (!timer) { timer = setTimeout(update, Math.max(0, last + GAP_MS - Date.now())); }
  }

  function connect() {
    if (!window.EventSource || new URLSearchParams(location.search).get("live") === "0") {
      say("polling"); return;
    }
    const es = new EventSource("/api/v1/stream");
    es.addEventListener("hello", () => {
      t.live = true; say("live");
      schedule();  // catch up once: on a first connect, what changed since the page was rendered
    });
    for (const name of WANTS[page] || []) { es.addEventListener(name, schedule); }
    es.onerror = () => {  // the browser retries by itself; until then tirta.js polls
      t.live = false;
      say(es.readyState === EventSource.CLOSED ? "polling (stream refused)" : "reconnecting… (polling)");
    };
  }

  // --- the status page ------------------------------------------------------------------------------
  const esc = (v) => (v == null ? "" : String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`));
  const txt = (id, v) => { const el = document.getElementById(id); if (el) { el.textContent = v; } };
  const ago = (s) => (s == null ? "–" : s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);
  const mb = (b) => (b == null ? "" : ` · ${(b / 1048576).toFixed(1)} MB`);
  const rows = (id, pairs) => {
    document.querySelector(`#${id} tbody`).innerHTML =
      pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  };

  function renderStatus(d) {
    const ing = d.ingestion;
    txt("st-rate", ing.rate_per_min == null ? "–" : ing.rate_per_min.toLocaleString("en"));
    txt("st-window", ing.window_min);
    txt("st-commit", ago(ing.since_commit_s));
    txt("st-latest", ing.latest ? ing.latest.replace("T", " ").slice(0, 19) : "no readings");
    txt("st-data-lag", ing.data_lag_s == null ? "" : `, ${ago(ing.data_lag_s)} ago`);
    txt("st-size", (ing.readings ?? 0).toLocaleString("en") + " readings" + mb(d.store.file_bytes));
    txt("st-url", d.store.url);
    const jobs = Object.entries(d.jobs).map(([name, j]) =>
      `<tr data-job="${esc(name)}"><td>${esc(name)}</td><td>${esc(j.disabled ? "off: " + j.disabled : j.schedule)}` +
      `</td><td class="num">${j.runs}${j.running ? " (running)" : ""}</td><td>${esc(j.last_start ? j.last_start.replace("T", " ").replace("Z", "") : "never")}</td>` +
      `<td class="num">${j.last_duration_s ?? "–"}</td><td class="num">${j.failures}</td>` +
      `<td class="${j.last_error ? "error" : ""}">${esc(j.last_error || "")}</td></tr>`);
    document.querySelector("#jobs tbody").innerHTML = jobs.join("") ||
      `<tr><td colspan="7" class="muted">${d.runtime ? "no jobs" : "this server runs no scheduler"}</td></tr>`;
    rows("per-minute", ing.per_minute.map((n, i) => [`${ing.per_minute.length - 1 - i} min ago`, n]));
    document.querySelector("#kinds tbody").innerHTML = Object.entries(ing.kinds).map(([k, v]) =>
      `<tr><td>${esc(k)}</td><td>${esc(v.latest)}</td><td class="num">${v.sensors}</td></tr>`).join("");
    rows("counts", Object.entries(d.store.counts));
    const m = d.mqtt;
    rows("mqtt", m ? [["broker", m.broker], ["connected", m.connected ? "yes" : "no"], ["topics", m.topics.join(", ")],
      ["messages", m.messages], ["accepted", m.accepted], ["quarantined", m.quarantined],
      ["last error", m.last_error || ""]] : [["", "not configured (TIRTA_MQTT_URL)"]]);
    txt("updated", "updated " + new Date().toLocaleTimeString());
  }

  if (page === "status") {
    renderStatus(JSON.parse(document.getElementById("page-data").textContent));
    setInterval(() => { if (!t.live && !document.hidden) { update(); } }, pollMs);  // the fallback
  }
  connect();
})();
