// Compare: metric curves of the chosen jobs overlaid, and a trade-off scatter of two results
// (params and result tables are server-rendered).
import { api, apiAll, bootData } from "./api.js";
import { overlayCharts, tradeoffPlot } from "./charts.js";
import { defaultAxes, numericKeys, tradeoffPoints } from "./tradeoff.js";

const { ids, results } = bootData();
const container = document.getElementById("charts");

async function metricsOf(id) {
  const r = await apiAll(`/api/jobs/${id}/events/?after=0`, 200);
  const points = new Map();
  for (const e of r.items ?? []) {
    if (e.type !== "metric") continue;
    const { name, step, value } = e.data;
    if (!points.has(name)) points.set(name, []);
    points.get(name).push([step, value]);
  }
  return points;
}

async function load() {
  const jobs = await Promise.all(ids.map((id) => api(`/api/jobs/${id}/`)));
  const runs = await Promise.all(ids.map(async (id, i) => ({
    label: `#${id} ${jobs[i].data?.name || ""}`.trim(),
    points: await metricsOf(id),
  })));
  document.getElementById("no-metrics")?.remove();
  if (!overlayCharts(container, runs)) container.textContent = "These jobs reported no metrics.";
}

function tradeoff() {
  const section = document.getElementById("tradeoff");
  const keys = numericKeys(results ?? {});
  if (!section || keys.length < 2) return;
  section.hidden = false;
  const [xSel, ySel] = ["tradeoff-x", "tradeoff-y"].map((id) => document.getElementById(id));
  const [x0, y0] = defaultAxes(keys);
  for (const [sel, chosen] of [[xSel, x0], [ySel, y0]]) {
    sel.replaceChildren(...keys.map((k) => new Option(k, k, false, k === chosen)));
    sel.addEventListener("change", draw);
  }
  function draw() {
    tradeoffPlot(document.getElementById("tradeoff-chart"), tradeoffPoints(results, xSel.value, ySel.value),
      xSel.value, ySel.value);
  }
  draw();
}

tradeoff();
load();
