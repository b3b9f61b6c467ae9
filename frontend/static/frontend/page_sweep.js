// A sweep's page: its trials table, best so far and plots, live over /ws/sweeps/<id>/ (each message is
// the whole sweep as GET /api/sweeps/<id>/ answers it, so a reconnect loses nothing).
import { api, bootData, h, statusBadge } from "./api.js";
import { openEventStream, reconnectOnWake } from "./events.js";
import { formatValue, TERMINAL } from "./format.js";
import { objectiveAgainst, parallelCoordinates, paretoFront, scored } from "./sweep_plots.js";
import { objectivePlot, parallelPlot, paretoPlot } from "./sweep_charts.js";
import { statusesOf, visibleTrials } from "./sweep_table.js";

let sweep = bootData();
const $ = (id) => document.getElementById(id);
const objectives = () => (Array.isArray(sweep.objective) ? sweep.objective : [sweep.objective]);
let drawnKey = null;

function valueText(values) {
  if (!Array.isArray(values)) return "";
  return values.map(formatValue).join(", ");
}

function trialRow(r) {
  const best = sweep.best?.job === r.job;
  const live = !TERMINAL.has(r.status) && r.job != null;
  const actions = h("td", { class: "trial-actions" },
    live ? h("button", { type: "button", class: "stop", onclick: () => control(`trials/${r.job}/stop`) }, "Stop") : null,
    !live && r.job != null && sweep.status !== "cancelled"
      ? h("button", { type: "button", class: "retry", onclick: () => control(`trials/${r.job}/retry`) }, "Retry") : null);
  return h("tr", { "data-job": r.job, class: best ? "best" : null },
    h("td", {}, String(r.number)),
    h("td", {}, r.job == null ? "deleted" : h("a", { href: `/jobs/${r.job}/` }, `#${r.job}`),
      best ? h("span", { class: "tag" }, "best") : null),
    ...Object.keys(sweep.space).map((n) => h("td", {}, formatValue(r.params[n]))),
    h("td", { class: "status-cell" }, statusBadge(r.status)),
    h("td", { class: "value" }, valueText(r.values)),
    h("td", { class: "note" }, r.note || ""),
    actions);
}

function render(next) {
  sweep = next;
  $("status").replaceChildren(statusBadge(sweep.status));
  $("error").hidden = !sweep.error;
  $("error").textContent = sweep.error || "";
  $("pause").hidden = sweep.status !== "running";
  $("resume").hidden = sweep.status !== "paused";
  $("cancel").hidden = TERMINAL.has(sweep.status);
  const ended = sweep.trial_rows.filter((r) => TERMINAL.has(r.status)).length;
  $("counts").textContent = `${sweep.trial_rows.length} made of ${sweep.max_trials}, ${ended} ended, at most ${sweep.parallel} at once`;
  const best = sweep.best;
  $("best").replaceChildren(best
    ? h("span", {}, `${objectives().map((o) => o.key).join(", ")} = ${valueText([best.value].flat())} by `,
      h("a", { href: `/jobs/${best.job}/` }, `#${best.job}`), ` with ${JSON.stringify(best.params)}`)
    : "no trial has a value yet");
  renderTable();
  draw();
}

function renderTable() {
  const statuses = statusesOf(sweep.trial_rows);
  const chosen = $("trial-status").value;
  $("trial-status").replaceChildren(h("option", { value: "" }, "all"),
    ...[...new Set([...statuses, chosen].filter(Boolean))].map((s) => h("option", { value: s }, s)));
  $("trial-status").value = chosen;
  const rows = visibleTrials(sweep.trial_rows,
    { status: chosen, text: $("trial-text").value, order: $("trial-order").value }, objectives()[0].goal);
  $("trial-shown").textContent = rows.length === sweep.trial_rows.length ? "" : `${rows.length} of ${sweep.trial_rows.length} shown`;
  const head = ["Trial", "Job", ...Object.keys(sweep.space), "Status", objectives().map((o) => `${o.key} (${o.goal})`).join(", "), "Note", ""];
  $("trials").replaceChildren(
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...rows.map(trialRow)));
}

for (const id of ["trial-status", "trial-order"]) $(id).addEventListener("change", renderTable);
$("trial-text").addEventListener("input", renderTable);

function draw() {
  // only when the scored trials (or the best) change: a status change of a running trial keeps the plots
  const done = scored(sweep.trial_rows);
  const key = JSON.stringify([done.map((r) => [r.job, r.values]), sweep.best?.job]);
  if (key === drawnKey) return;
  drawnKey = key;
  const obj = objectives();
  const container = $("plots");
  container.replaceChildren();
  if (!done.length) {
    container.append(h("p", { class: "empty" }, "Plots appear once a trial has a value."));
    return;
  }
  for (const name of Object.keys(sweep.space)) {
    objectivePlot(container, name, obj[0].key, objectiveAgainst(sweep.trial_rows, sweep.space, name), sweep.best?.job);
  }
  parallelPlot(container, parallelCoordinates(sweep.trial_rows, sweep.space), obj[0].goal, sweep.best?.job);
  if (obj.length === 2) {
    const two = done.filter((r) => typeof r.values[1] === "number");
    paretoPlot(container, two, paretoFront(two, obj.map((o) => o.goal)), obj.map((o) => o.key));
  }
}

async function control(action) {
  $("action-state").textContent = "…";
  const r = await api(`/api/sweeps/${sweep.id}/${action}/`, { method: "POST" });
  $("action-state").textContent = r.ok ? "" : (r.data?.detail || Object.values(r.data ?? {}).flat().join(" ") || `error ${r.status}`);
  if (r.ok) render(r.data);
}

for (const action of ["pause", "resume", "cancel"]) $(action).addEventListener("click", () => control(action));

render(sweep);
const proto = location.protocol === "https:" ? "wss:" : "ws:";
const stream = openEventStream({
  makeUrl: () => `${proto}//${location.host}/ws/sweeps/${sweep.id}/`,
  tracked: false,
  onEvent: (m) => { if (m.type === "sweep") render(m.sweep); },
  onState: (s) => { $("live-state").textContent = s === "open" ? "live" : s; },
});
reconnectOnWake(stream);
