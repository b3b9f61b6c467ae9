// fixtures/union_schema.json is written by pydantic (fixtures/union_schema.py) from params shaped like
// `train` as a discriminated union on `objective` at the root, with the ml.params conventions: x-when,
// x-advanced, x-presets, and a default_factory's value as the schema default (ml.params.FactoryDefaults).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describeSchema, collectParams, currentValues, applies, prefill, presetsOf, formErrors, errorsByField,
  foldAdvanced } from "../static/frontend/schema.js";

const schema = JSON.parse(readFileSync(new URL("./fixtures/union_schema.json", import.meta.url)));
const fields = describeSchema(schema);
const [top] = fields;
const flowField = (name) => top.variants.find((v) => v.value === "slimflow").fields.find((f) => f.name === name);

// the form as a user leaves it: prefilled from `initial`, then `edits` typed, `picks` chosen
function form(initial, edits = {}, picks = {}) {
  const { raw, chosen } = prefill(fields, initial, picks);
  Object.assign(raw, edits);
  return [(n) => raw[n], (n) => chosen[n]];
}

test("a root union is one select of its tag, one option per tag value, the branch's fields under it", () => {
  assert.equal(fields.length, 1);
  assert.equal(top.kind, "union");
  assert.equal(top.root, true);
  assert.equal(top.name, "objective");
  assert.deepEqual(top.path, []);
  // in the branches' own order (not the mapping's alphabetical one)
  assert.deepEqual(top.variants.map((v) => v.value), ["rectified_flow", "reflow", "slimflow", "oracle"]);
  assert.deepEqual(top.default, { objective: "rectified_flow" });
  const [rf, reflow, , oracle] = top.variants;
  assert.equal(rf.branch, reflow.branch); // one branch, several tag values: the same fields
  assert.notEqual(rf.branch, oracle.branch);
  assert.ok(!rf.fields.some((f) => f.name === "objective")); // the tag is the select, not a field
  assert.deepEqual(oracle.fields.map((f) => f.name), ["seed", "device", "split", "lr"]);
});

test("x-when and x-advanced are read from the schema", () => {
  assert.deepEqual(flowField("slimflow_anneal").when, { objective: ["slimflow"] });
  assert.deepEqual(flowField("model").when, { objective: ["reflow", "slimflow"] });
  assert.equal(flowField("steps").when, null);
  assert.equal(flowField("warmup_steps").advanced, true);
  assert.equal(flowField("steps").advanced, false);
});

test("common fields come first, the advanced ones after them under the fold, each in schema order", () => {
  const flow = top.variants.find((v) => v.value === "slimflow").fields;
  const { common, advanced } = foldAdvanced(flow);
  assert.deepEqual(common.map((f) => f.name), ["seed", "device", "data", "steps", "model", "slimflow_anneal"]);
  assert.deepEqual(advanced.map((f) => f.name), ["warmup_steps", "ema_decay"]);
});

test("a field applies only while its sibling takes one of its values", () => {
  const anneal = flowField("slimflow_anneal");
  assert.equal(applies(anneal, currentValues(fields, ...form(null))), false); // rectified_flow by default
  assert.equal(applies(anneal, currentValues(fields, ...form(null, {}, { objective: "slimflow" }))), true);
  assert.equal(applies(flowField("model"), currentValues(fields, ...form(null, {}, { objective: "reflow" }))), true);
  // nested: the sibling of "data.means" is "data.type", the data union's tag
  const values = currentValues(fields, ...form(null, {}, { data: "gmm" }));
  assert.equal(values["data.type"], "gmm");
  assert.equal(applies({ path: ["data", "means"], when: { type: ["gmm"] } }, values), true);
  assert.equal(applies({ path: ["data", "means"], when: { type: ["moons"] } }, values), false);
});

test("fields that do not apply are not sent; advanced ones are", () => {
  const rf = collectParams(fields, ...form(null)).params;
  assert.deepEqual(rf, { objective: "rectified_flow", seed: 0, device: "auto", data: { type: "moons" }, steps: 500,
    warmup_steps: 50 });
  const slim = collectParams(fields, ...form(null, { slimflow_anneal: "0.25" }, { objective: "slimflow" })).params;
  assert.equal(slim.objective, "slimflow");
  assert.equal(slim.slimflow_anneal, 0.25);
  assert.equal(slim.ema_decay, 0.999); // advanced and applying: sent
  assert.ok(!("model" in slim)); // applies, but empty: the server's default
  // typed while slimflow, then switched back: the value stays in its box but is not sent
  const back = collectParams(fields, ...form(null, { slimflow_anneal: "0.25" }, { objective: "rectified_flow" })).params;
  assert.ok(!("slimflow_anneal" in back) && !("ema_decay" in back), back);
});

test("the other branch sends only its own fields", () => {
  const { params, errors } = collectParams(fields, ...form(null, { split: "1" }, { objective: "oracle" }));
  assert.deepEqual(errors, {});
  assert.deepEqual(params, { objective: "oracle", seed: 0, device: "auto", split: 1, lr: 0.001 });
});

test("the data's own fields start from a working example, not empty boxes", () => {
  const { raw } = prefill(fields, null);
  assert.equal(raw["data.means"], undefined); // moons (the default data) has no fields
  const gmm = collectParams(fields, ...form(null, {}, { data: "gmm" })).params;
  assert.deepEqual(gmm.data, { type: "gmm", means: [[-2, 0], [2, 0]] });
});

test("a preset fills the form and comes back as sent, whichever branch it is in", () => {
  const presets = presetsOf(schema);
  assert.deepEqual(Object.keys(presets), ["paper config", "quick demo"]);
  for (const preset of Object.values(presets)) {
    const { params, errors } = collectParams(fields, ...form(preset));
    assert.deepEqual(errors, {});
    for (const [k, v] of Object.entries(preset)) assert.deepEqual(params[k], v, k);
  }
  assert.equal(prefill(fields, presets["paper config"]).chosen.objective, "oracle");
  assert.deepEqual(presetsOf({}), {});
});

test("a 400 on a root union names the form's field, not the branch", () => {
  const answer = { params: { "slimflow.steps": ["Input should be greater than or equal to 1"],
    "rectified_flow.slimflow_anneal": ["applies only when objective is slimflow (it is rectified_flow)"],
    non_field_errors: ["Unable to extract tag using discriminator 'objective'"] } };
  assert.deepEqual(formErrors(fields, errorsByField(answer)), {
    steps: ["Input should be greater than or equal to 1"],
    slimflow_anneal: ["applies only when objective is slimflow (it is rectified_flow)"],
    "": ["Unable to extract tag using discriminator 'objective'"],
  });
  const flat = describeSchema(JSON.parse(readFileSync(new URL("./fixtures/params_schema.json", import.meta.url))));
  assert.deepEqual(formErrors(flat, { "model.means": ["bad"] }), { "model.means": ["bad"] });
});
