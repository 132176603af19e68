// Plant page charts: electricity used against CHP electricity, and load against design, per month.
(function () {
  "use strict";
  function draw() {
    const el = document.getElementById("plant-data");
    if (!el || !window.Plotly) { return; }
    const months = JSON.parse(el.textContent).months;
    const x = months.map(function (m) { return m.month; });
    const layout = { height: 280, margin: { t: 10, b: 40, l: 60, r: 10 }, xaxis: { type: "category" },
      legend: { orientation: "h" } };
    Plotly.newPlot("plant-energy", [
      { type: "bar", name: "used (kWh)", x: x, y: months.map(function (m) { return m.energy_kwh; }) },
      { type: "bar", name: "CHP (kWh)", x: x, y: months.map(function (m) { return m.chp_electricity_kwh; }) },
    ], layout, { displayModeBar: false, responsive: true });
    Plotly.newPlot("plant-load", [
      { type: "scatter", name: "hydraulic", x: x, y: months.map(function (m) { return m.hydraulic_load_ratio; }) },
      { type: "scatter", name: "organic", x: x, y: months.map(function (m) { return m.organic_load_ratio; }) },
    ], layout, { displayModeBar: false, responsive: true }).then(function () {
      document.getElementById("plant-load").dataset.drawn = "1";
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
