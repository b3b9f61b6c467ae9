// Renders field descriptions (schema.js) as labelled inputs, and shows errors next to them.
import { h } from "./api.js";
import { applies, currentValues, foldAdvanced, initialValue, initialVariant } from "./schema.js";

const ACRONYMS = { nfe: "NFE", lr: "LR", kl: "KL", dna: "DNA", id: "ID", gmm: "GMM", cfg: "CFG", smc: "SMC", tds: "TDS" };

export function niceLabel(label) {
  return label.split(" ").map((w) => ACRONYMS[w.toLowerCase()] ?? w).join(" ");
}

const fid = (name) => `p-${name.replace(/[^\w-]/g, "-")}`;

function rangeText(f) {
  const parts = [];
  if (f.min != null) parts.push(`≥ ${f.min}`);
  if (f.exclusiveMin != null) parts.push(`> ${f.exclusiveMin}`);
  if (f.max != null) parts.push(`≤ ${f.max}`);
  if (f.exclusiveMax != null) parts.push(`< ${f.exclusiveMax}`);
  return parts.join(", ");
}

// the field description each rendered wrapper stands for, so that visibility can be recomputed
const described = new WeakMap();
const watched = new WeakMap(); // container -> the fields rendered in it

/** Renders `fields` into `container`. `initial`: params to prefill (else schema defaults).
 * `models`: the user's model artifacts for "artifact" fields. Fields whose `when` does not hold are
 * hidden (and not sent, see collectParams); `advanced` ones go under an "Advanced" fold. */
export function renderFields(container, fields, { initial = null, models = [] } = {}) {
  container.replaceChildren(...renderList(fields, initial, models));
  if (!watched.has(container)) {
    // a union's own listener re-renders its branch first; this one, on the way up, runs after it
    for (const type of ["change", "input"]) {
      container.addEventListener(type, () => updateVisibility(container, watched.get(container)));
    }
  }
  watched.set(container, fields);
  updateVisibility(container, fields);
}

/** Common fields first, then the advanced ones folded. */
function renderList(fields, initial, models) {
  const { common, advanced } = foldAdvanced(fields);
  const out = common.map((f) => renderField(f, initial, models));
  if (advanced.length) {
    out.push(h("details", { class: "advanced" }, h("summary", {}, "Advanced"),
      ...advanced.map((f) => renderField(f, initial, models))));
  }
  return out;
}

/** Hides the fields that do not apply now, and a fold left with nothing to show. */
export function updateVisibility(container, fields) {
  const form = container.closest("form") ?? container;
  const values = currentValues(fields, (n) => readControl(form, n), (n) => readVariant(form, n));
  for (const el of container.querySelectorAll("[data-field]")) {
    const f = described.get(el);
    if (f?.when) el.hidden = !applies(f, values);
  }
  for (const fold of container.querySelectorAll("details.advanced")) {
    fold.hidden = ![...fold.children].some((c) => c.tagName !== "SUMMARY" && !c.hidden);
  }
}

function describedBy(f) {
  return `${fid(f.name)}-help error-${fid(f.name)}`;
}

function wrap(f, control, extra = []) {
  const help = [f.help, rangeText(f)].filter(Boolean).join(" · ");
  return h("div", { class: `field field-${f.kind}`, "data-field": f.name },
    f.kind === "boolean" ? null : h("label", { for: fid(f.name) }, niceLabel(f.label)),
    control,
    ...extra,
    h("p", { class: "help", id: `${fid(f.name)}-help` }, help),
    h("p", { class: "error", id: `error-${fid(f.name)}`, hidden: true }));
}

function renderField(f, initial, models) {
  const el = renderControl(f, initial, models);
  described.set(el, f);
  return el;
}

function renderControl(f, initial, models) {
  const value = initialValue(f, initial);
  const common = { id: fid(f.name), name: f.name, "aria-describedby": describedBy(f) };
  switch (f.kind) {
    case "object":
      return h("fieldset", { class: "group", "data-field": f.name }, h("legend", {}, niceLabel(f.label)),
        f.help ? h("p", { class: "help" }, f.help) : null,
        ...renderList(f.fields, initial, models));
    case "union":
      return renderUnion(f, initial, models);
    case "boolean": {
      const box = h("input", { ...common, type: "checkbox", checked: Boolean(value) });
      return wrap(f, h("label", { class: "check", for: fid(f.name) }, box, " ", niceLabel(f.label)));
    }
    case "enum":
      return wrap(f, h("select", common, [
        // null / absent means "the server's default" (e.g. the schedule a model was trained with)
        f.nullable || (!f.required && value === undefined)
          ? h("option", { value: "", selected: value == null }, "(default)") : null,
        ...f.options.map((o) => h("option", { value: String(o), selected: o === value }, String(o))),
      ]));
    case "integer":
    case "number":
      return wrap(f, h("input", {
        ...common, type: "number", inputmode: f.kind === "integer" ? "numeric" : "decimal",
        min: f.min ?? f.exclusiveMin, max: f.max ?? f.exclusiveMax, step: f.kind === "integer" ? "1" : "any",
        value: value ?? "", placeholder: f.nullable ? "(none)" : null,
      }));
    case "artifact": {
      // data fields take datasets, every other field a model (jobs/resolve.py DATASET_FIELDS)
      const wanted = artifactKind(f);
      const choices = models.filter((m) => (m.kind ?? "model") === wanted);
      return wrap(f, h("select", common, [
        h("option", { value: "" }, choices.length ? `Choose a ${wanted}…`
          : wanted === "dataset" ? "No datasets yet: upload one" : "No models yet: train or upload one"),
        ...choices.map((m) => h("option", { value: String(m.id), selected: m.id === value },
          `${m.job_name || m.job_kind} #${m.job} · ${m.name}${m.created_at ? ` · ${m.created_at.slice(0, 16).replace("T", " ")}` : ""}`)),
      ]));
    }
    case "json":
      return wrap(f, h("textarea", { ...common, rows: "2", spellcheck: "false", class: "mono" },
        value == null ? "" : JSON.stringify(value)));
    default:
      return wrap(f, h("input", { ...common, type: "text", maxlength: f.maxLength, value: value ?? "" }));
  }
}

export const DATASET_FIELDS = ["data", "calibration"];

/** "dataset" for a reference under a data field (data, data.labels, calibration), else "model". */
export function artifactKind(field) {
  return DATASET_FIELDS.includes(field.path[0]) ? "dataset" : "model";
}

function renderUnion(f, initial, models) {
  const { variant: current, initial: start } = initialVariant(f, initial);
  const body = h("div", { class: "variant-body" });
  const select = h("select", { id: fid(f.name), name: `${f.name}#variant`, "aria-describedby": describedBy(f) },
    f.variants.map((v) => h("option", { value: v.value, selected: v === current }, v.label)));
  let shown = null;
  const show = (v, init) => {
    // tag values of one branch (reflow, slimflow) share its fields: keep what was typed there
    if (shown?.branch === v.branch && shown.fields === v.fields) return;
    shown = v;
    body.replaceChildren(...renderList(v.fields, init, models));
  };
  select.addEventListener("change", () => show(f.variants.find((v) => v.value === select.value), null));
  show(current, start);
  if (f.root) {
    // the kind's params are this union (train: one branch per objective): its select heads the form
    return h("div", { class: "union root-union", "data-field": f.name }, wrap(f, select), body);
  }
  return h("fieldset", { class: "group union", "data-field": f.name }, h("legend", {}, niceLabel(f.label)),
    wrap({ ...f, label: `${niceLabel(f.label)} type`, help: f.help }, select), body);
}

/** Reads a control's raw value by field name. */
export function readControl(form, name) {
  const el = form.querySelector(`#${CSS.escape(fid(name))}`);
  if (!el) return undefined;
  return el.type === "checkbox" ? el.checked : el.value;
}

export function readVariant(form, name) {
  return readControl(form, name);
}

/** Shows `errors` ({name: [msg]}) next to their fields; returns the messages that found no field. */
export function showErrors(form, errors) {
  for (const p of form.querySelectorAll("p.error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const orphans = [];
  let first = null;
  const idOf = (n) => (n === "kind" ? "kind" : n === "name" ? "job-name" : fid(n));
  // a field hidden because it does not apply has no place to show an error: the summary says it
  const errorOf = (n) => {
    const p = form.querySelector(`#error-${CSS.escape(n === "kind" || n === "name" ? n : fid(n))}`);
    return p && !p.parentElement?.closest("[hidden]") ? p : null;
  };
  for (const [name, messages] of Object.entries(errors)) {
    let target = name;
    let p = name ? errorOf(name) : null;
    // An error on "model.means" when only "model" is shown: walk up the path.
    while (!p && target.includes(".")) {
      target = target.slice(0, target.lastIndexOf("."));
      p = errorOf(target);
    }
    if (!p) {
      orphans.push(...messages.map((m) => (name ? `${name}: ${m}` : m)));
      continue;
    }
    p.hidden = false;
    p.textContent = messages.join(" ");
    for (let fold = p.closest("details"); fold; fold = fold.parentElement?.closest("details")) fold.open = true;
    const control = form.querySelector(`#${CSS.escape(idOf(target))}`);
    control?.setAttribute("aria-invalid", "true");
    first ??= control;
  }
  first?.focus();
  return orphans;
}
