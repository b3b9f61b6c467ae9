// Workers: who is online, which queues they take, what they run, and their GPUs.
import { api, h } from "./api.js";
import { formatBytes } from "./format.js";

const body = document.getElementById("workers-body");
const state = document.getElementById("refresh-state");
const REFRESH_MS = 5000;

function devices(d) {
  if (!Array.isArray(d) || !d.length) return h("span", { class: "kind" }, "CPU");
  return h("ul", { class: "devices" }, d.map((g) => {
    const used = g.memory_used != null && g.memory_total ? g.memory_used / g.memory_total : null;
    return h("li", {}, h("strong", {}, g.name), " ",
      used == null ? "" : h("span", {}, `${formatBytes(g.memory_used)} / ${formatBytes(g.memory_total)} `),
      used == null ? "" : h("meter", { min: "0", max: "1", value: String(used), "aria-label": `${g.name} memory used` }),
      g.utilization == null ? "" : h("span", {}, ` ${Math.round(g.utilization)}% busy`));
  }));
}

async function refresh() {
  const r = await api("/api/workers/");
  if (!r.ok) {
    state.textContent = `Could not load workers (${r.status}).`;
  } else {
    const list = r.data.results ?? r.data;
    body.replaceChildren(...(list.length ? list.map((w) => h("tr", {},
      h("th", { scope: "row" }, w.name),
      h("td", {}, (w.queues ?? []).join(", ")),
      h("td", {}, (w.active ?? []).length
        ? (w.active ?? []).flatMap((id, i) => [i ? ", " : "", h("a", { href: `/jobs/${id}/` }, `#${id}`)]) : "idle"),
      h("td", {}, devices(w.devices)))) : [h("tr", {}, h("td", { colspan: "4", class: "empty" },
      "No worker is online: queued jobs wait until one starts."))]));
    state.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
