// JSON Schema (as pydantic v2 writes it) -> flat descriptions of form fields, and back from
// the form's raw values to a params object. Pure: no DOM here, see form.js for rendering.

/** Field description:
 * {path: ["model", "means"], name: "model.means", label, help, kind, required, default,
 *  min, max, exclusiveMin, exclusiveMax, maxLength, options, variants, fields}
 * kind: "integer" | "number" | "string" | "boolean" | "enum" | "json" | "object" | "union" | "artifact".
 * "union": `variants` = [{label, value, fields, tag: {key, value} | null, branch}]; a discriminated union
 *   has one variant per tag value (a branch may take several, e.g. objective reflow | slimflow);
 * "artifact": an id of one of the user's model artifacts (ml.params.ArtifactRef).
 * `when` ({sibling: [values]}, ml.params.WHEN): the field applies only while a sibling takes one of those
 * values; `advanced` (ml.params.ADVANCED): the form folds it under "Advanced".
 * A kind whose params are a discriminated union at the root (train: one branch per objective) gives one
 * field of kind "union" with `root: true`, path [] and the discriminator's name. */
export const WHEN = "x-when";
export const ADVANCED = "x-advanced";
export const PRESETS = "x-presets";

export function describeSchema(schema) {
  const root = schema;
  const top = resolve(root, schema);
  if ((top.oneOf || top.anyOf) && !top.properties) return [rootUnion(root, top)];
  return objectFields(root, top, []);
}

/** Fields in the form's order: the common ones, then those folded under "Advanced", each in schema order. */
export function foldAdvanced(fields) {
  return { common: fields.filter((f) => !f.advanced), advanced: fields.filter((f) => f.advanced) };
}

/** The kind's named example params ({"quick demo": {...}, "paper config": {...}}), from the schema. */
export function presetsOf(schema) {
  const p = schema?.[PRESETS];
  return p && typeof p === "object" ? p : {};
}

function rootUnion(root, top) {
  const variants = unionVariants(root, top, [], top);
  const key = variants.find((v) => v.tag)?.tag.key ?? "type";
  const first = resolve(root, (top.oneOf ?? top.anyOf)[0]);
  const tagProp = first.properties?.[key] ? resolve(root, first.properties[key]) : {};
  return {
    path: [], name: key, label: humanize(key), help: tagProp.description ?? top.description ?? "",
    required: true, nullable: false, root: true, kind: "union", variants,
    default: { [key]: tagProp.default ?? tagProp.const ?? variants[0]?.value },
  };
}

function resolve(root, node) {
  let n = node;
  for (let guard = 0; n && n.$ref && guard < 32; guard++) {
    const parts = n.$ref.replace(/^#\//, "").split("/");
    const target = parts.reduce((acc, p) => acc?.[p], root);
    if (!target) throw new Error(`unresolved $ref ${n.$ref}`);
    const { $ref, ...rest } = n;
    n = { ...target, ...rest };
  }
  // pydantic wraps a $ref with a default or description as allOf: [{$ref}]
  if (n && n.allOf && n.allOf.length === 1) {
    const { allOf, ...rest } = n;
    n = { ...resolve(root, allOf[0]), ...rest };
  }
  return n;
}

function objectFields(root, obj, path) {
  const required = new Set(obj.required ?? []);
  return Object.entries(obj.properties ?? {}).map(([key, prop]) =>
    describe(root, prop, [...path, key], required.has(key)));
}

function humanize(key) {
  const s = key.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function describe(root, rawProp, path, required) {
  let prop = resolve(root, rawProp);
  const key = path[path.length - 1];
  const base = {
    path,
    name: path.join("."),
    label: prop.title && prop.title !== humanize(key).replace(/\b\w/g, (c) => c.toUpperCase()) ? prop.title : humanize(key),
    help: prop.description ?? "",
    required,
    default: prop.default ?? prop.examples?.[0],
    nullable: false,
    when: prop[WHEN] ?? rawProp[WHEN] ?? null,
    advanced: Boolean(prop[ADVANCED] ?? rawProp[ADVANCED]),
  };
  // Optional[X] is anyOf [X, {type: null}]
  const alts = prop.anyOf ?? prop.oneOf;
  if (alts) {
    const nonNull = alts.filter((a) => a.type !== "null");
    base.nullable = nonNull.length < alts.length;
    if (nonNull.length === 1) {
      const inner = resolve(root, nonNull[0]);
      prop = { ...inner, ...withoutAlts(prop) };
    } else {
      return { ...base, kind: "union", variants: unionVariants(root, { ...prop, oneOf: nonNull, anyOf: undefined }, path, prop) };
    }
  }
  if (isArtifactRef(prop)) return { ...base, kind: "artifact" };
  if (prop.enum) return { ...base, kind: "enum", options: prop.enum };
  if (prop.const !== undefined) return { ...base, kind: "enum", options: [prop.const], default: prop.const };
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (type === "integer" || type === "number") {
    return {
      ...base, kind: type,
      min: prop.minimum, max: prop.maximum,
      exclusiveMin: prop.exclusiveMinimum, exclusiveMax: prop.exclusiveMaximum,
    };
  }
  if (type === "boolean") return { ...base, kind: "boolean" };
  if (type === "string") return { ...base, kind: "string", maxLength: prop.maxLength };
  if (type === "object" && prop.properties && Object.keys(prop.properties).length) {
    return { ...base, kind: "object", fields: objectFields(root, prop, path) };
  }
  return { ...base, kind: "json" };
}

function withoutAlts(prop) {
  const { anyOf, oneOf, discriminator, ...rest } = prop;
  return rest;
}

// ml.params.ArtifactRef: an object with an integer "artifact" (and an optional "path" that only
// terminal runs use), offered in the form as a choice among the user's model artifacts.
function isArtifactRef(prop) {
  const p = prop.properties;
  return prop.type === "object" && p && "artifact" in p && Object.keys(p).every((k) => k === "artifact" || k === "path");
}

function unionVariants(root, node, path, parent) {
  const alts = (node.oneOf ?? node.anyOf).filter((a) => a.type !== "null");
  const key = parent.discriminator?.propertyName;
  const out = [];
  alts.forEach((raw, i) => {
    const one = variant(root, raw, path, parent, i);
    const tagProp = key && one.tag ? resolve(root, resolve(root, raw).properties[key]) : null;
    // a branch that several tag values share (Literal["reflow", "slimflow"]) is one variant per value
    const values = tagProp?.enum ?? (tagProp ? [one.tag.value] : [null]);
    for (const value of values) {
      out.push(value === null ? one
        : { ...one, label: String(value), value: String(value), tag: { key, value }, branch: `b${i}` });
    }
  });
  return out;
}

function variant(root, rawVariant, path, parent, index) {
  const v = resolve(root, rawVariant);
  if (isArtifactRef(v)) {
    const data = ["data", "calibration"].includes(path[0]);  // form.js DATASET_FIELDS
    return { label: data ? "one of my datasets" : "one of my models", value: "artifact", tag: null, branch: `b${index}`,
      fields: [{ path: [...path, "artifact"], name: [...path, "artifact"].join("."),
        label: data ? "Dataset artifact" : "Model artifact",
        help: v.properties.artifact.description ?? "", required: true, kind: "artifact", nullable: false,
        when: null, advanced: false }] };
  }
  // ml/ tags its unions with a "type" key (STYLE/HELPERS: discriminated unions on "type")
  const tagKey = parent.discriminator?.propertyName
    ?? (v.properties?.type && resolve(root, v.properties.type).const !== undefined ? "type" : undefined);
  const tagValue = tagKey ? resolve(root, v.properties[tagKey]).const ?? resolve(root, v.properties[tagKey]).enum?.[0] : undefined;
  const fields = v.type === "object" || v.properties
    ? objectFields(root, v, path).filter((f) => f.path[f.path.length - 1] !== tagKey)
    : [describe(root, v, path, true)];
  let label = tagValue ?? v.title ?? `option ${index + 1}`;
  if (!tagKey && v.properties && Object.keys(v.properties).length === 1) {
    const only = Object.keys(v.properties)[0];
    label = only === "builtin" ? "built-in" : humanize(only).toLowerCase();
  }
  return { label: String(label), value: String(tagValue ?? `v${index}`), tag: tagKey ? { key: tagKey, value: tagValue } : null,
    fields, branch: `b${index}` };
}

/** The variant a default value (or a prefilled value) belongs to, by tag or by keys. */
export function matchVariant(field, value) {
  if (value == null || typeof value !== "object") return field.variants[0];
  if ("artifact" in value) return field.variants.find((v) => v.value === "artifact") ?? field.variants[0];
  return field.variants.find((v) => v.tag && value[v.tag.key] === v.tag.value)
    ?? field.variants.find((v) => !v.tag && v.fields.every((f) => f.path[f.path.length - 1] in value))
    ?? field.variants[0];
}

/** Value of `path` in a nested object. */
export function getPath(obj, path) {
  return path.reduce((acc, k) => (acc == null ? undefined : acc[k]), obj);
}

export function setPath(obj, path, value) {
  let o = obj;
  for (const k of path.slice(0, -1)) o = o[k] ??= {};
  o[path[path.length - 1]] = value;
}

/** Raw form text -> typed value for one field. Returns {value} or {error}; an empty optional
 * field returns {} and is left out of params, so the server's default applies. */
export function coerce(field, raw) {
  if (field.kind === "boolean") return { value: Boolean(raw) };
  const text = raw == null ? "" : String(raw).trim();
  if (text === "") return field.required ? { error: "This field is required." } : {};
  switch (field.kind) {
    case "integer":
    case "artifact": {
      // No range check here: the API's answer is the single source of errors.
      if (!/^[-+]?\d+$/.test(text)) return { error: "Enter a whole number." };
      return { value: Number(text) };
    }
    case "number": {
      const v = Number(text);
      return Number.isFinite(v) ? { value: v } : { error: "Enter a number." };
    }
    case "enum": {
      const opt = field.options.find((o) => String(o) === text);
      return opt === undefined ? { error: "Choose one of the options." } : { value: opt };
    }
    case "json": {
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { error: "Enter valid JSON." };
      }
    }
    default:
      return { value: text };
  }
}

/** The chosen variant of a union, by its select's value (the first when none is chosen). */
function pickVariant(f, picked) {
  return f.variants.find((x) => x.value === picked) ?? f.variants[0];
}

/** What each sibling a `when` rule may name holds now: {name: value} over the fields the form shows,
 * a union's chosen tag included ("objective" of a root union, "data.type"). An empty box counts as
 * its default: that is what the server will use. */
export function currentValues(fields, read, chosen) {
  const out = {};
  const walk = (list) => {
    for (const f of list) {
      if (f.kind === "object") walk(f.fields);
      else if (f.kind === "union") {
        const picked = chosen(f.name);
        if (picked === "" || picked == null) continue;
        const v = pickVariant(f, picked);
        if (v.tag) out[[...f.path, v.tag.key].join(".")] = v.tag.value;
        walk(v.fields);
      } else {
        const r = coerce({ ...f, required: false }, read(f.name));
        out[f.name] = "value" in r ? r.value : f.default;
      }
    }
  };
  walk(fields);
  return out;
}

/** Whether `f` applies given the siblings' current values (a rule on a sibling the form does not
 * show is not the form's to judge: the server's 400 says it). */
export function applies(f, values) {
  if (!f.when) return true;
  const parent = f.path.slice(0, -1);
  return Object.entries(f.when).every(([key, allowed]) => {
    const name = [...parent, key].join(".");
    return !(name in values) || allowed.some((a) => a === values[name]);
  });
}

/** Builds params from the fields and `read(name)` -> raw value, `chosen(name)` -> variant value
 * of a union. A field that does not apply (its `when`) is not sent: the server would refuse it.
 * Returns {params, errors: {name: [message]}}. */
export function collectParams(fields, read, chosen) {
  const params = {};
  const errors = {};
  const values = currentValues(fields, read, chosen);
  const walk = (list) => {
    for (const f of list) {
      if (!applies(f, values)) continue;
      if (f.kind === "object") {
        walk(f.fields);
      } else if (f.kind === "union") {
        const picked = chosen(f.name);
        if (picked === "" || picked == null) continue; // "default": let the server choose
        const v = pickVariant(f, picked);
        if (f.path.length) setPath(params, f.path, getPath(params, f.path) ?? {});
        if (v.tag) setPath(params, [...f.path, v.tag.key], v.tag.value);
        walk(v.fields);
      } else {
        const r = coerce(f, read(f.name));
        if (r.error) errors[f.name] = [r.error];
        else if ("value" in r) setPath(params, f.path, r.value);
      }
    }
  };
  walk(fields);
  return { params, errors };
}

/** The value a field shows first: from `initial` params (a preset, a job being relaunched), else its
 * default. */
export function initialValue(f, initial) {
  const v = initial ? getPath(initial, f.path) : undefined;
  return v !== undefined ? v : f.default;
}

/** The variant a union shows first, and the params its fields start from. */
export function initialVariant(f, initial) {
  const given = initial ? (f.path.length ? getPath(initial, f.path) : initial) : undefined;
  return { variant: matchVariant(f, given ?? f.default), initial: given !== undefined ? initial : null };
}

/** What the form holds right after rendering `fields` from `initial`: {raw: {name: text}, chosen:
 * {name: variant}}, as form.js fills the controls. `picks` ({union name: variant}) are choices made
 * afterwards: a newly chosen branch starts from its defaults, as in the form. */
export function prefill(fields, initial, picks = {}) {
  const raw = {};
  const chosen = {};
  const walk = (list, init) => {
    for (const f of list) {
      if (f.kind === "object") walk(f.fields, init);
      else if (f.kind === "union") {
        let { variant, initial: next } = initialVariant(f, init);
        const picked = picks[f.name] && pickVariant(f, picks[f.name]);
        if (picked && picked.branch !== variant.branch) next = null;
        variant = picked || variant;
        chosen[f.name] = variant.value;
        walk(variant.fields, next);
      } else {
        const v = initialValue(f, init);
        raw[f.name] = f.kind === "boolean" ? Boolean(v) : v == null ? "" : f.kind === "json" ? JSON.stringify(v) : String(v);
      }
    }
  };
  walk(fields, initial);
  return { raw, chosen };
}

/** Field errors of a 400 under the names of the form: a root union's errors come located under the
 * chosen tag ("slimflow.steps"), the form names the field "steps". */
export function formErrors(fields, errors) {
  const top = fields.length === 1 && fields[0].root ? fields[0] : null;
  if (!top) return errors;
  const tags = new Set(top.variants.map((v) => v.value));
  const out = {};
  for (const [name, messages] of Object.entries(errors)) {
    const [head, ...rest] = name.split(".");
    const key = tags.has(head) && rest.length ? rest.join(".") : name;
    (out[key] ??= []).push(...messages);
  }
  return out;
}

/** A 400 answer -> {name: [messages]} with names as in the form ("nfe", "model.means"),
 * plus "kind", "name" and "" (errors that belong to no field). Accepts DRF's nested dicts
 * of lists, pydantic's [{loc, msg}] lists, and {"detail": ...}. */
export function errorsByField(body) {
  const out = {};
  const add = (name, msg) => (out[name] ??= []).push(String(msg));
  const walk = (node, prefix) => {
    if (node == null) return;
    if (typeof node === "string") return add(prefix, node);
    if (Array.isArray(node)) {
      for (const item of node) {
        if (item && typeof item === "object" && Array.isArray(item.loc)) {
          const loc = item.loc.filter((p) => p !== "body" && p !== "params").join(".");
          add(join(prefix, loc), item.msg ?? item.message ?? JSON.stringify(item));
        } else {
          walk(item, prefix);
        }
      }
      return;
    }
    if (typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "estimate" && prefix === "") continue; // admission's numbers: its "params" message says them
        const key = k === "non_field_errors" || k === "detail" || k === "__all__" ? "" : k;
        walk(v, k === "params" && prefix === "" ? "" : join(prefix, key));
      }
    }
  };
  walk(body, "");
  return out;
}

function join(a, b) {
  return a && b ? `${a}.${b}` : a || b;
}

/** A 400 answer as one line for a small form: "password: This password is too short." */
export function errorText(body) {
  return Object.entries(errorsByField(body)).map(([name, msgs]) => (name ? `${name}: ` : "") + msgs.join(" ")).join(" ");
}
