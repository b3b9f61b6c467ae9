// New job page: the form of the chosen kind, built from its JSON Schema (/api/job-kinds/).
import { api, apiAll, bootData, h } from "./api.js";
import { describeSchema, collectParams, errorsByField, formErrors, presetsOf } from "./schema.js";
import { renderFields, readControl, readVariant, showErrors } from "./form.js";

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
  const [k, m] = await Promise.all([api("/api/job-kinds/"), apiAll(`/api/artifacts/?kind=model&project=${boot.project}`)]);
  if (!k.ok) {
    showSummary([`Could not load job kinds (${k.status}).`]);
    return;
  }
  kinds = k.data.results ?? k.data;
  models = m.ok ? m.items : [];
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

load();
