/* Transparency page: the history chart of the published indicators (one line per indicator, by period). */
"use strict";
(function () {
  const el = document.getElementById("kpi-history");
  const src = document.getElementById("kpi-history-data");
  if (!el || !src || typeof Plotly === "undefined") { return; }
  const data = JSON.parse(src.textContent);
  const ids = ["6.1", "15.1", "23.2", "ILI"];
  const x = data.history.map((h) => h.from + " – " + h.to);
  const traces = ids.map((id) => ({
    type: "scatter", mode: "lines+markers", name: id + " " + (data.names[id] || ""), x,
    y: data.history.map((h) => h.values[id]),
  }));
  Plotly.react(el, traces, {
    margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { type: "category" }, legend: { orientation: "h" },
  }, { displayModeBar: false, responsive: true });
})();
