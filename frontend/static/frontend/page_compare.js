// Compare: metric curves of the chosen jobs overlaid (params and results are server-rendered).
import { api, apiAll, bootData } from "./api.js";
import { overlayCharts } from "./charts.js";

const { ids } = bootData();
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

load();
