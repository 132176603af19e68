/* tirta planning page: district map and trend from the page data, the extension what-if drawn on the network. */
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("planning-data")?.textContent || "null");
  const config = { displaylogo: false, responsive: true };
  if (data) {
    Plotly.newPlot("district-map", data.map.data, data.map.layout, config).then(() => {
      document.getElementById("district-map").dataset.drawn = "1";
    });
    Plotly.newPlot("trend", data.trend.data, data.trend.layout, config);
  }
  const form = document.getElementById("whatif-form");
  const err = document.getElementById("wi-error");
  const summary = document.getElementById("wi-summary");
  const fmt = (v, d) => (v == null ? "–" : Number(v).toLocaleString("en", { maximumFractionDigits: d }));

  document.querySelectorAll("a.pick").forEach((a) => a.addEventListener("click", () => {
    if (a.dataset.node) {
      form.node.value = a.dataset.node;
      form.households.value = a.dataset.households;
    }
  }));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    summary.textContent = "running the design day…";
    const payload = {
      connections: [{ node: form.node.value.trim(), households: Number(form.households.value) }],
      lpcd: Number(form.lpcd.value), household_size: Number(form.household_size.value),
      peak_factor: Number(form.peak_factor.value), min_pressure_m: Number(form.min_pressure_m.value),
    };
    try {
      const out = await window.tirta.postJSON("/api/v1/planning/extend", payload);
      const below = out.nodes_below_min.length;
      summary.textContent = `new demand ${fmt(out.new_demand_lps, 2)} L/s · lowest pressure ${fmt(out.min_pressure_m, 1)} m at ${out.critical_node}`
        + ` · ${below} node(s) below ${fmt(out.service_pressure_m, 1)} m · demand shortfall ${fmt(out.demand_shortfall_pct, 2)} %`
        + ` · max velocity ${fmt(out.max_velocity_m_s, 2)} m/s (${out.max_velocity_link})`;
      summary.dataset.below = String(below);
      summary.dataset.shortfall = String(out.demand_shortfall_pct);
      await Plotly.newPlot("wi-map", out.figure.data, out.figure.layout, config);
      document.getElementById("wi-map").dataset.drawn = String(Date.now());
    } catch (e) {
      summary.textContent = "";
      err.textContent = e.message;
      err.hidden = false;
    }
  });
})();
