// fixtures/params_schema.json was written by pydantic 2 (model_json_schema) from a params class
// shaped like ml.sample.Params: unions with and without a discriminator, ArtifactRef, Optional,
// nested object, enums, bounds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describeSchema, collectParams, coerce, errorsByField, matchVariant } from "../static/frontend/schema.js";

const schema = JSON.parse(readFileSync(new URL("./fixtures/params_schema.json", import.meta.url)));
const fields = describeSchema(schema);
const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

test("scalar fields keep defaults, bounds, enums and help text", () => {
  assert.deepEqual(fields.map((f) => f.name),
    ["seed", "device", "model", "data", "base", "nfe", "sampler", "save_noise", "clip", "optimizer", "note"]);
  const nfe = byName.nfe;
  assert.equal(nfe.kind, "integer");
  assert.equal(nfe.default, 10);
  assert.equal(nfe.min, 1);
  assert.equal(nfe.max, 1000);
  assert.equal(nfe.help, "Model evaluations.");
  assert.equal(nfe.label, "Nfe");
  assert.deepEqual(byName.device.options, ["auto", "cpu", "cuda"]);
  assert.equal(byName.device.kind, "enum");
  assert.equal(byName.save_noise.kind, "boolean");
  assert.equal(byName.save_noise.label, "Save noise");
  assert.equal(byName.clip.kind, "number");
  assert.equal(byName.clip.nullable, true);
  assert.equal(byName.clip.exclusiveMin, 0);
  assert.equal(byName.note.maxLength, 100);
  assert.equal(byName.optimizer.kind, "object");
  assert.deepEqual(byName.optimizer.fields.map((f) => [f.name, f.kind]), [["optimizer.lr", "number"], ["optimizer.name", "enum"]]);
});

test("unions become variants; ArtifactRef becomes a pick among my models", () => {
  const model = byName.model;
  assert.equal(model.kind, "union");
  assert.deepEqual(model.variants.map((v) => v.label), ["gmm", "one of my models"]);
  assert.deepEqual(model.variants[0].fields.map((f) => [f.name, f.kind]), [["model.means", "json"], ["model.stds", "json"]]);
  assert.deepEqual(model.variants[0].fields[0].default, [[-2, 0], [2, 0]]);
  assert.deepEqual(model.variants[1].fields.map((f) => [f.name, f.kind]), [["model.artifact", "artifact"]]);
  assert.deepEqual(byName.data.variants.map((v) => v.value), ["gmm", "moons"]);
  assert.deepEqual(byName.base.variants.map((v) => v.label), ["built-in", "one of my models"]);
  assert.equal(matchVariant(model, { artifact: 3 }).value, "artifact");
  assert.equal(matchVariant(byName.data, { type: "moons" }).value, "moons");
});

test("collectParams builds the nested params object the API expects", () => {
  const raw = { seed: "3", device: "cpu", "model.artifact": "12", "data.noise": "0.1", nfe: "25",
    sampler: "euler", save_noise: true, clip: "", "optimizer.lr": "0.01", "optimizer.name": "lion",
    "base.builtin": "char_transformer", note: "hi" };
  const chosen = { model: "artifact", data: "moons", base: "v0" };
  const { params, errors } = collectParams(fields, (n) => raw[n], (n) => chosen[n]);
  assert.deepEqual(errors, {});
  assert.deepEqual(params, { seed: 3, device: "cpu", model: { artifact: 12 }, data: { type: "moons", noise: 0.1 },
    base: { builtin: "char_transformer" }, nfe: 25, sampler: "euler", save_noise: true,
    optimizer: { lr: 0.01, name: "lion" }, note: "hi" });
});

test("an empty union choice and empty optional fields are left to the server", () => {
  const { params } = collectParams(fields, () => "", () => "");
  assert.deepEqual(params, { save_noise: false });
});

test("coercion reports unreadable input without range checks (the API owns those)", () => {
  assert.deepEqual(coerce(byName.nfe, "5000"), { value: 5000 });
  assert.deepEqual(coerce(byName.nfe, "2.5"), { error: "Enter a whole number." });
  assert.deepEqual(coerce(byName.clip, "abc"), { error: "Enter a number." });
  assert.deepEqual(coerce(byName.model.variants[0].fields[0], "[[1, 2]"), { error: "Enter valid JSON." });
  assert.deepEqual(coerce({ ...byName.nfe, required: true }, " "), { error: "This field is required." });
});

test("400 answers in DRF and pydantic shapes map to form fields", () => {
  assert.deepEqual(errorsByField({ params: { nfe: ["Ensure this value is at most 1000."], model: { means: ["bad"] } } }),
    { nfe: ["Ensure this value is at most 1000."], "model.means": ["bad"] });
  assert.deepEqual(errorsByField({ params: [{ loc: ["nfe"], msg: "Input should be less than or equal to 1000" }] }),
    { nfe: ["Input should be less than or equal to 1000"] });
  assert.deepEqual(errorsByField({ kind: ["Unknown kind."], detail: "nope", non_field_errors: ["x"] }),
    { kind: ["Unknown kind."], "": ["nope", "x"] });
  assert.deepEqual(errorsByField({ params: { "model.means": ["bad"] } }), { "model.means": ["bad"] });
});
