// New job page: the form of the chosen kind, built from its JSON Schema (/api/job-kinds/).
import { api, apiAll, bootData, h } from "./api.js";
import { describeSchema, collectParams, errorsByField, formErrors, presetsOf } from "./schema.js";
import { renderFields, readControl, readVariant, showErrors } from "./form.js";
import { leafPaths, sweepBody } from "./sweep_form.js";

const boot = bootData();
const form = document.getElementById("job-form");
const kindSelect = document.getElementById("kind");
const paramsBox = document.getElementById("params");
const presetSelect = document.getElementById("preset");
const summary = document.getElementById("form-errors");
const state = document.getElementById("launch-state");
let kinds = [];
let fields = [];
let models = [];

function showSummary(messages) {
  summary.hidden = !messages.length;
  summary.replaceChildren(...(messages.length
    ? [h("p", {}, "The job was not created:"), h("ul", {}, messages.map((m) => h("li", {}, m)))] : []));
}

const currentKind = () => kinds.find((k) => k.name === kindSelect.value);

function renderKind(initialParams) {
  const kind = currentKind();
  document.getElementById("kind-help").textContent = kind
    ? [kind.description, kind.queue ? `Runs on queue “${kind.queue}”.` : ""].filter(Boolean).join(" ") : "";
  const presets = Object.keys(presetsOf(kind?.params_schema));
  document.getElementById("preset-field").hidden = !presets.length;
  presetSelect.replaceChildren(h("option", { value: "" }, initialParams ? "(as started from)" : "(defaults)"),
    ...presets.map((name) => h("option", { value: name }, name)));
  if (!kind) {
    paramsBox.replaceChildren();
    return;
  }
  fields = describeSchema(kind.params_schema);
  renderFields(paramsBox, fields, { initial: initialParams, models });
  showSummary([]);
}

presetSelect.addEventListener("change", () => {
  const kind = currentKind();
  if (!kind) return;
  // "(defaults)" / "(as started from)": the job this form was opened from, if it is of this kind
  const preset = presetSelect.value ? presetsOf(kind.params_schema)[presetSelect.value]
    : kind.name === boot.kind ? boot.params : null;
  renderFields(paramsBox, fields, { initial: preset ?? null, models });
  showErrors(form, {});
  showSummary([]);
});

async function load() {
  const [k, m, d] = await Promise.all([api("/api/job-kinds/"), apiAll(`/api/artifacts/?kind=model&project=${boot.project}`),
    apiAll(`/api/artifacts/?kind=dataset&project=${boot.project}`)]);
  if (!k.ok) {
    showSummary([`Could not load job kinds (${k.status}).`]);
    return;
  }
  kinds = k.data.results ?? k.data;
  models = [...(m.ok ? m.items : []), ...(d.ok ? d.items : [])];  // form.js offers each field its kind
  kindSelect.replaceChildren(h("option", { value: "" }, "Choose a kind…"),
    ...kinds.map((x) => h("option", { value: x.name, selected: x.name === boot.kind }, x.title ? `${x.name}: ${x.title}` : x.name)));
  renderKind(boot.params);
}

kindSelect.addEventListener("change", () => renderKind(null));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!kindSelect.value) {
    showErrors(form, { kind: ["Choose a kind."] });
    return;
  }
  const { params, errors } = collectParams(fields, (n) => readControl(form, n), (n) => readVariant(form, n));
  if (Object.keys(errors).length) {
    showSummary(showErrors(form, errors));
    return;
  }
  const body = { kind: kindSelect.value, params, project: boot.project };  // the header's current project
  const name = document.getElementById("job-name").value.trim();
  if (name) body.name = name;
  const button = document.getElementById("launch");
  button.disabled = true;
  state.textContent = "Launching…";
  const r = await api("/api/jobs/", { method: "POST", body });
  button.disabled = false;
  if (r.ok && r.data?.id) {
    state.textContent = "Launched";
    location.assign(`/jobs/${r.data.id}/`);
    return;
  }
  state.textContent = "";
  const byField = r.status === 400 ? formErrors(fields, errorsByField(r.data)) : { "": [r.data?.detail ?? `Error ${r.status}`] };
  showSummary(showErrors(form, byField));
});

// --- Launch as a sweep: rows of (param, list or range), then POST /api/sweeps/ ---
const sweepRows = document.getElementById("sweep-rows");
let sweepRowCount = 0;

function addSweepRow() {
  const i = sweepRowCount++;
  const mode = h("select", { id: `sweep-mode-${i}`, class: "sweep-mode", "aria-label": "Swept as a list or a range" },
    h("option", { value: "values" }, "values"), h("option", { value: "range" }, "range"));
  const values = h("input", { class: "sweep-values", "aria-label": "Swept values, separated by commas", placeholder: "5, 10, 20", size: 24 });
  const low = h("input", { class: "sweep-low", "aria-label": "Swept range low", placeholder: "low", size: 8, hidden: true });
  const high = h("input", { class: "sweep-high", "aria-label": "Swept range high", placeholder: "high", size: 8, hidden: true });
  const log = h("label", { class: "check", hidden: true }, h("input", { type: "checkbox", class: "sweep-log" }), " log");
  mode.addEventListener("change", () => {
    const range = mode.value === "range";
    values.hidden = range;
    for (const el of [low, high, log]) el.hidden = !range;
  });
  sweepRows.append(h("div", { class: "filters sweep-row" },
    h("input", { class: "sweep-param", list: "sweep-param-names", "aria-label": "Swept param (dotted for nested ones)",
      placeholder: "param, e.g. nfe or data.type", size: 22 }), mode, values, low, high, log,
    h("button", { type: "button", class: "link", onclick: (e) => e.target.closest(".sweep-row").remove() }, "remove")));
}

function formParams() {
  return collectParams(fields, (n) => readControl(form, n), (n) => readVariant(form, n));
}

document.getElementById("sweep-add").addEventListener("click", addSweepRow);
document.getElementById("sweep-builder").addEventListener("toggle", (e) => {
  if (!e.target.open) return;
  if (!sweepRows.children.length) addSweepRow();
  // the names offered: the params this form would submit now, dotted
  const names = leafPaths(formParams().params);
  document.getElementById("sweep-param-names").replaceChildren(...names.map((n) => h("option", { value: n })));
});

function showSweepErrors(errors) {
  const box = document.getElementById("sweep-errors");
  const lines = Object.entries(errors).map(([k, v]) => `${k}: ${[v].flat().map((m) => (typeof m === "object" ? JSON.stringify(m) : m)).join(" ")}`);
  box.hidden = !lines.length;
  box.replaceChildren(...(lines.length ? [h("p", {}, "The sweep was not created:"), h("ul", {}, lines.map((l) => h("li", {}, l)))] : []));
}

document.getElementById("sweep-launch").addEventListener("click", async () => {
  if (!kindSelect.value) {
    showSweepErrors({ kind: ["Choose a kind."] });
    return;
  }
  const { params, errors: paramErrors } = formParams();
  if (Object.keys(paramErrors).length) {
    showSummary(showErrors(form, paramErrors));
    return;
  }
  const val = (id) => document.getElementById(id).value;
  const rows = [...sweepRows.querySelectorAll(".sweep-row")].map((row) => ({
    param: row.querySelector(".sweep-param").value, mode: row.querySelector(".sweep-mode").value,
    values: row.querySelector(".sweep-values").value, low: row.querySelector(".sweep-low").value,
    high: row.querySelector(".sweep-high").value, log: row.querySelector(".sweep-log").checked,
  }));
  const { body, errors } = sweepBody({ kind: kindSelect.value, name: document.getElementById("job-name").value.trim(),
    params, project: boot.project, rows, method: val("sweep-method"), objectiveKey: val("sweep-objective"),
    goal: val("sweep-goal"), maxTrials: val("sweep-max"), parallel: val("sweep-parallel"),
    earlyMetric: val("sweep-early"), earlyRule: val("sweep-rule") });
  if (Object.keys(errors).length) {
    showSweepErrors(errors);
    return;
  }
  const stateEl = document.getElementById("sweep-state");
  stateEl.textContent = "Launching…";
  const r = await api("/api/sweeps/", { method: "POST", body });
  if (r.ok && r.data?.id) {
    stateEl.textContent = "Launched";
    location.assign(`/sweeps/${r.data.id}/`);
    return;
  }
  stateEl.textContent = "";
  showSweepErrors(r.status === 400 ? r.data : { "": [r.data?.detail ?? `Error ${r.status}`] });
});

load();
