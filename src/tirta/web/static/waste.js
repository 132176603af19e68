/* tirta waste page: monthly streams with diversion, and per landfill the modelled methane and power curves
   with their collection-efficiency band and the engines' actual years (Plotly, shipped locally). */
"use strict";
(function () {
  const el = document.getElementById("page-data");
  if (!el || typeof Plotly === "undefined") { return; }
  const data = JSON.parse(el.textContent);
  const cfg = { displayModeBar: false, responsive: true };
  const colours = { recycling: "#2e8b57", composting: "#8fbc3f", energy_recovery: "#e39b2d", landfill: "#8a8f98" };
  const months = data.months || [];
  const x = months.map((m) => m.period);
  const bars = Object.keys(colours).map((c) => ({
    type: "bar", name: c.replace("_", " "), x, y: months.map((m) => m.categories_t[c]), marker: { color: colours[c] },
  }));
  bars.push({ type: "scatter", mode: "lines+markers", name: "diversion %", x, y: months.map((m) => m.diversion_pct),
    yaxis: "y2", line: { color: "#0b6fa4", width: 2 } });
  const streams = document.getElementById("streams-chart");
  Plotly.react(streams, bars, {
    barmode: "stack", margin: { l: 60, r: 50, t: 10, b: 40 }, xaxis: { type: "category" },
    yaxis: { title: { text: "t per month" } },
    yaxis2: { title: { text: "diversion %" }, overlaying: "y", side: "right", rangemode: "tozero" },
    legend: { orientation: "h", y: -0.2 },
  }, cfg).then(() => { streams.dataset.drawn = "1"; });

  function band(xs, lo, hi, name, colour) {
    return [
      { type: "scatter", mode: "lines", x: xs, y: lo, line: { width: 0 }, hoverinfo: "skip", showlegend: false },
      { type: "scatter", mode: "lines", x: xs, y: hi, fill: "tonexty", fillcolor: colour, line: { width: 0 },
        name },
    ];
  }
  (data.landfills || []).forEach((lf, i) => {
    const ops = lf.operations || [];
    const annual = (o, v) => (o.coverage > 0 ? v / o.coverage : null);
    const gas = document.getElementById("gas-chart-" + i);
    const gasTraces = [
      ...band(lf.year, lf.collected_low_m3, lf.collected_high_m3, "collectable (band)", "rgba(11,111,164,0.2)"),
      { type: "scatter", mode: "lines", name: "generated (LandGEM)", x: lf.year, y: lf.methane_m3,
        line: { color: "#333", width: 2 } },
      { type: "scatter", mode: "markers", name: "collected (engines)", x: ops.map((o) => o.year),
        y: ops.map((o) => annual(o, o.collected_methane_m3)), marker: { color: "#d2452b", size: 9 } },
    ];
    Plotly.react(gas, gasTraces, { margin: { l: 70, r: 10, t: 10, b: 40 }, yaxis: { title: { text: "m³ CH4 per year" },
      rangemode: "tozero" }, legend: { orientation: "h", y: -0.2 } }, cfg).then(() => { gas.dataset.drawn = "1"; });
    const power = document.getElementById("power-chart-" + i);
    const powerTraces = [
      ...band(lf.year, lf.power_low_mw, lf.power_high_mw, "potential (band)", "rgba(46,139,87,0.2)"),
      { type: "scatter", mode: "lines", name: "potential (model)", x: lf.year, y: lf.power_mw,
        line: { color: "#2e8b57", width: 2 } },
      { type: "scatter", mode: "markers", name: "actual mean MW", x: ops.map((o) => o.year),
        y: ops.map((o) => o.power_mw), marker: { color: "#d2452b", size: 9 } },
    ];
    Plotly.react(power, powerTraces, { margin: { l: 60, r: 10, t: 10, b: 40 }, yaxis: { title: { text: "MW" },
      rangemode: "tozero" }, legend: { orientation: "h", y: -0.2 } }, cfg).then(() => { power.dataset.drawn = "1"; });
  });
})();
