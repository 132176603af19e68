/* tirta dashboard: fetch helpers (session cookie + CSRF header), polling, and each page's charts. */
"use strict";
(function () {
  const body = document.body;
  const pollMs = Math.max(1, Number(body.dataset.poll || 5)) * 1000;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  // Every failed API call shows its error on the page (the API's message, else the HTTP status).
  async function failure(r) {
    let msg = r.statusText || "request failed";
    try { const e = (await r.json()).error; if (e) { msg = e.message + (e.field ? ` (${e.field})` : ""); } } catch (_) { /* not JSON */ }
    return new Error(`${r.status}: ${msg}`);
  }

  function showError(err) {
    let el = document.getElementById("api-error");
    if (!el) {
      el = document.createElement("p");
      el.id = "api-error"; el.className = "api-error"; el.setAttribute("role", "alert");
      const main = document.querySelector("main");
      main.insertBefore(el, main.firstChild);
    }
    el.textContent = "Could not load data: " + (err && err.message ? err.message : String(err));
    el.hidden = false;
  }

  function clearError() {
    const el = document.getElementById("api-error");
    if (el) { el.hidden = true; el.textContent = ""; }
  }

  async function getJSON(url) {
    let r;
    try {
      r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (e) { throw new Error("the server cannot be reached (" + e.message + ")"); }
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
    if (!r.ok) { throw await failure(r); }
    return r.json();
  }

  // Run an async page action; its failure goes on the page, its success clears an earlier one.
  async function guard(fn) {
    try { const out = await fn(); clearError(); stamp(); return out; } catch (e) { showError(e); }
  }

  async function postJSON(url, payload) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload),
    });
    if (!r.ok) { throw await failure(r); }
    return r.json();
  }

  const refreshers = [];  // what poll() runs; live.js calls them on a pushed update (tirta.refresh)
  async function refresh() {
    for (const fn of refreshers) { await guard(fn); }
  }

  function poll(fn, every = 1) {
    refreshers.push(fn);
    const tick = async () => {
      if (!document.hidden && !window.tirta?.live) { await guard(fn); }  // live: live.js pushes instead
      setTimeout(tick, pollMs * every);
    };
    setTimeout(tick, pollMs * every);
  }

  function stamp() {
    const el = document.getElementById("updated");
    if (el) { el.textContent = "updated " + new Date().toLocaleTimeString(); }
  }

  function pageData() {
    const el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function pick(obj, path) { return path.split(".").reduce((o, k) => (o == null ? o : o[k]), obj); }

  function fillKeys(data) {
    document.querySelectorAll("[data-k]").forEach((el) => {
      const v = pick(data, el.dataset.k);
      if (v === undefined) { return; }
      const d = el.dataset.d;
      el.textContent = v === null ? "–" : (d !== undefined && typeof v === "number"
        ? v.toLocaleString("en", { minimumFractionDigits: +d, maximumFractionDigits: +d }) : String(v));
    });
    document.querySelectorAll("[data-w]").forEach((el) => {  // a KPI's sanity warnings
      const list = pick(data, el.dataset.w);
      if (list === undefined) { return; }
      el.innerHTML = (list || []).map((w) => `<li>${esc(w)}</li>`).join("");
      el.hidden = !(list && list.length);
    });
  }

  const chartLayout = (ytitle) => ({
    margin: { l: 55, r: 10, t: 10, b: 40 }, yaxis: { title: { text: ytitle }, rangemode: "tozero" },
    xaxis: { type: "category" }, showlegend: false,
  });

  function trendChart(id, trend) {
    const el = document.getElementById(id);
    if (!el) { return; }
    // a month whose NRW fails a sanity check is drawn in red with its warnings; a withheld one is absent
    const why = (m) => (m.kpi_warnings && m.kpi_warnings.nrw_pct) || [];
    const x = trend.map((m) => m.period), y = trend.map((m) => m.nrw_pct);
    const color = trend.map((m) => (why(m).length ? "#c0392b" : "#0b6fa4"));
    const text = trend.map((m) => (why(m).length ? "⚠ " + why(m).join("<br>⚠ ") : (m.withheld || []).join("; ")));
    return Plotly.react(el, [{ type: "bar", x, y, marker: { color }, name: "NRW %", hovertext: text,
      hovertemplate: "%{x}: %{y:.1f} %<br>%{hovertext}<extra></extra>" }],
      chartLayout("NRW %"), { displayModeBar: false, responsive: true });
  }

  const pages = {
    overview() {
      const data = pageData();
      trendChart("trend", data.trend);
      poll(async () => {
        const d = await getJSON("/api/v1/dashboard/overview");
        fillKeys(d); trendChart("trend", d.trend);
        const shown = d.display.events;  // size and water lost in the user's units, in the same order
        const rows = d.events.map((e, i) => `<tr><td><a href="/events/${e.id}">${e.id}</a></td>` +
          `<td><span class="st st-${e.status}">${e.status}</span></td><td>${esc(e.dma)}</td><td>${esc(e.pipe)}</td>` +
          `<td>${sig(shown[i].size)}</td><td>${esc(e.detected_at)}</td><td>${fmt(shown[i].water_lost, 0)}</td></tr>`);
        document.querySelector("#open-events tbody").innerHTML = rows.join("") ||
          '<tr><td colspan="7" class="muted">no open events</td></tr>';
      });
    },

    map() {
      const el = document.getElementById("map");
      const form = document.getElementById("map-controls");
      let clickBound = false;
      async function draw() {
        const q = new URLSearchParams({ quantity: form.quantity.value });
        if (new URLSearchParams(location.search).get("gl") === "false") { q.set("gl", "false"); }
        if (form.at.value.trim()) { q.set("at", form.at.value.trim()); }
        const fig = await getJSON("/api/v1/network/map?" + q.toString());
        el.dataset.fetched = String(performance.now());
        await Plotly.react(el, fig.traces, fig.layout, { responsive: true, scrollZoom: true, displaylogo: false });
        const m = fig.meta;
        document.getElementById("map-meta").textContent =
          `${m.nodes} nodes, ${m.links} links · ${m.quantity} at ${m.at}` + (m.crs ? ` · ${m.crs} → lon/lat` : "") +
          ` · ${m.active_events} active events`;
        const credit = document.getElementById("map-attribution");  // the basemap's (TIRTA_MAP_ATTRIBUTION)
        if (credit) { credit.textContent = m.basemap ? m.basemap.attribution : ""; credit.hidden = !m.basemap; }
        el.dataset.basemap = m.basemap ? "on" : "off";
        const notes = document.getElementById("map-notices");
        notes.innerHTML = (m.notices || []).map((n) => `<li>${esc(n)}</li>`).join("");
        notes.hidden = !(m.notices && m.notices.length);
        el.dataset.drawn = String(performance.now());  // ms since navigation start (benchmarks/web.py)
        if (!clickBound) {
          el.on("plotly_click", (ev) => {
            const p = ev.points && ev.points[0];
            if (p && p.data.name === "sensors") { location.href = "/sensors/" + encodeURIComponent(p.customdata); }
          });
          clickBound = true;
        }
      }
      form.addEventListener("submit", (ev) => { ev.preventDefault(); guard(draw); });
      guard(draw);
      poll(draw, 3);  // a big network takes a second or two to redraw: every third interval
    },

    sensors() {
      poll(async () => {
        const d = await getJSON("/api/v1/dashboard/sensors");
        for (const s of d.sensors) {
          const row = document.querySelector(`#sensors tr[data-id="${CSS.escape(s.id)}"]`);
          if (!row) { continue; }
          row.querySelector('[data-f="value"]').textContent = fmt(s.value, 3);
          row.querySelector('[data-f="unit"]').textContent = s.unit || "";
          row.querySelector('[data-f="at"]').textContent = s.at || "";
          row.querySelector('[data-f="flags"]').textContent = s.flags;
          row.querySelector('[data-f="quarantined"]').textContent = s.quarantined;
        }
      });
    },

    sensor() {
      const el = document.getElementById("series");
      const draw = (d) => {
        const shapes = d.flags.map((f) => ({ type: "rect", xref: "x", yref: "paper", x0: f.start, x1: f.end,
          y0: 0, y1: 1, fillcolor: "rgba(255,170,0,0.25)", line: { width: 0 } }));
        const marks = d.flags.map((f) => ({ x: f.start, y: 1, yref: "paper", text: f.kind, showarrow: false,
          yanchor: "bottom", font: { size: 11, color: "#8a5a00" } }));
        return Plotly.react(el, [{ type: "scattergl", mode: "lines", x: d.time, y: d.value, name: d.sensor.id,
          line: { color: "#0b6fa4", width: 1.5 } }], { margin: { l: 60, r: 10, t: 20, b: 40 }, shapes,
          annotations: marks, yaxis: { title: { text: d.display_column || d.sensor.column } } }, { responsive: true, displaylogo: false });
      };
      const data = pageData();
      draw(data);
      const days = new URLSearchParams(location.search).get("days") || "2";
      poll(async () => {
        const d = await getJSON(`/api/v1/dashboard/sensors/${encodeURIComponent(data.sensor.id)}?days=${days}`);
        document.getElementById("n-flags").textContent = d.flags.length;
        document.getElementById("n-quarantined").textContent = d.quarantined;
        draw(d);
      });
    },

    events() {
      poll(async () => {
        const d = await getJSON("/api/v1/events?limit=500");
        const rows = d.items.map((e) => `<tr><td><a href="/events/${e.id}">${e.id}</a></td>` +
          `<td><span class="st st-${esc(e.status)}">${esc(e.status)}</span></td><td>${esc(e.dma)}</td>` +
          `<td>${esc(e.pipe)}</td><td>${esc(String(e.kind || "").replace(/_/g, " "))}</td>` +
          // the same 12 columns as the server-rendered page (events.html), customer cells empty for leaks
          `<td>${esc(e.customer ? e.customer.id : "")}</td>` +
          // loss a day, size and water lost in the user's units (display), as the template shows them
          `<td class="num">${e.customer ? fmt(e.display.loss_per_day, 3) : ""}</td>` +
          `<td class="num">${e.customer ? fmt(e.customer.cost_per_day, 2) : ""}</td>` +
          `<td class="num">${sig(e.display.size)}</td><td class="num">${fmt(e.radius_m, 0)}</td>` +
          `<td>${esc(e.detected_at)}</td><td class="num">${fmt(e.display.water_lost, 0)}</td></tr>`);
        document.querySelector("#events tbody").innerHTML = rows.join("") ||
          '<tr><td colspan="12" class="muted">no events</td></tr>';
      });
    },

    event() {
      document.querySelectorAll("form.act").forEach((form) => {
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          const err = document.getElementById("action-error");
          try {
            const note = form.note.value.trim();
            await postJSON(`/api/v1/events/${form.dataset.event}/${form.dataset.action}`, note ? { note } : {});
            location.reload();
          } catch (e) { err.textContent = e.message; err.hidden = false; }
        });
      });
    },

    balance() {
      const data = pageData();
      if (data) { trendChart("months-chart", data.months); }
    },

    public() {
      trendChart("trend", pageData().trend);
      poll(async () => {
        fillKeys(await getJSON("/api/v1/public/kpis"));
        const trend = await getJSON("/api/v1/public/nrw-trend");
        trendChart("trend", trend);
        document.getElementById("withheld").innerHTML = trend.filter((m) => m.withheld.length)
          .map((m) => `<li>${esc(m.period)} withheld: ${esc(m.withheld.join("; "))}</li>`).join("");
      });
    },
  };

  function esc(v) {
    return v == null ? "" : String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }
  function sig(v) { return v == null ? "–" : Number(v).toLocaleString("en", { maximumSignificantDigits: 4 }); }
  function fmt(v, d) {
    return v == null ? "–" : Number(v).toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  const init = pages[body.dataset.page];
  if (init) { init(); }
  window.tirta = { getJSON, postJSON, guard, showError, refresh, live: false };
})();
