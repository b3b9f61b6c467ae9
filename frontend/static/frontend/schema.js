// JSON Schema (as pydantic v2 writes it) -> flat descriptions of form fields, and back from
// the form's raw values to a params object. Pure: no DOM here, see form.js for rendering.

/** Field description:
 * {path: ["model", "means"], name: "model.means", label, help, kind, required, default,
 *  min, max, exclusiveMin, exclusiveMax, maxLength, options, variants, fields}
 * kind: "integer" | "number" | "string" | "boolean" | "enum" | "json" | "object" | "union" | "artifact".
 * "union": `variants` = [{label, value, fields, tag: {key, value} | null}];
 * "artifact": an id of one of the user's model artifacts (ml.params.ArtifactRef). */
export function describeSchema(schema) {
  const root = schema;
  return objectFields(root, resolve(root, schema), []);
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
    default: prop.default,
    nullable: false,
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
      return { ...base, kind: "union", variants: nonNull.map((v, i) => variant(root, v, path, prop, i)) };
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

function variant(root, rawVariant, path, parent, index) {
  const v = resolve(root, rawVariant);
  if (isArtifactRef(v)) {
    return { label: "one of my models", value: "artifact", tag: null,
      fields: [{ path: [...path, "artifact"], name: [...path, "artifact"].join("."), label: "Model artifact",
        help: v.properties.artifact.description ?? "", required: true, kind: "artifact", nullable: false }] };
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
  return { label: String(label), value: String(tagValue ?? `v${index}`), tag: tagKey ? { key: tagKey, value: tagValue } : null, fields };
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

/** Builds params from the fields and `read(name)` -> raw value, `chosen(name)` -> variant value
 * of a union. Returns {params, errors: {name: [message]}}. */
export function collectParams(fields, read, chosen) {
  const params = {};
  const errors = {};
  const walk = (list) => {
    for (const f of list) {
      if (f.kind === "object") {
        walk(f.fields);
      } else if (f.kind === "union") {
        const picked = chosen(f.name);
        if (picked === "" || picked == null) continue; // "default": let the server choose
        const v = f.variants.find((x) => x.value === picked) ?? f.variants[0];
        setPath(params, f.path, getPath(params, f.path) ?? {});
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
