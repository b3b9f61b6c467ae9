import { test } from "node:test";
import assert from "node:assert/strict";
import { buildSpace, leafPaths, parseValues, sweepBody } from "../static/frontend/sweep_form.js";

test("values are JSON where they read as JSON, else text", () => {
  assert.deepEqual(parseValues("5, 10 ,20"), [5, 10, 20]);
  assert.deepEqual(parseValues("ddim, dpm_solver_pp_2m"), ["ddim", "dpm_solver_pp_2m"]);
  assert.deepEqual(parseValues("true, null, 1e-3, , x"), [true, null, 0.001, "x"]);
});

test("a space from the rows; a row without values or with a bad range names its param", () => {
  assert.deepEqual(buildSpace([
    { param: "sampler", mode: "values", values: "ddim, pndm" },
    { param: "lr", mode: "range", low: "1e-4", high: "0.01", log: true },
    { param: "", mode: "values", values: "1" },
  ]), { space: { sampler: { values: ["ddim", "pndm"] }, lr: { low: 0.0001, high: 0.01, log: true } }, errors: {} });
  assert.deepEqual(buildSpace([{ param: "nfe", mode: "values", values: " , " }]).errors,
    { "space.nfe": ["give one or more values, separated by commas"] });
  assert.deepEqual(buildSpace([{ param: "lr", mode: "range", low: "a", high: "1" }]).errors,
    { "space.lr": ["low and high must be numbers"] });
  assert.deepEqual(buildSpace([]).errors, { space: ["add a param to sweep"] });
});

test("leaf paths are the dotted names of nested params", () => {
  assert.deepEqual(leafPaths({ nfe: 10, model: { type: "gmm", means: [[0, 1]] }, data: {} }),
    ["model.means", "model.type", "nfe"]);
});

test("the POST body: empty optional fields left out, early stopping only with a metric", () => {
  const { body, errors } = sweepBody({ kind: "train", params: { steps: 5 }, project: 3,
    rows: [{ param: "lr", mode: "range", low: "0.001", high: "0.1", log: true }], method: "tpe",
    objectiveKey: "final_loss", goal: "min", maxTrials: "12", parallel: "", earlyMetric: "loss", earlyRule: "median" });
  assert.deepEqual(errors, {});
  assert.deepEqual(body, { kind: "train", params: { steps: 5 }, project: 3, method: "tpe", max_trials: 12,
    space: { lr: { low: 0.001, high: 0.1, log: true } }, objective: { key: "final_loss", goal: "min" },
    early_stop: { metric: "loss", rule: "median" } });
  assert.deepEqual(sweepBody({ kind: "sample", params: {}, rows: [{ param: "nfe", values: "4" }], method: "grid",
    objectiveKey: " ", goal: "min" }).errors, { "objective.key": ["the result key to optimise, e.g. exact_rmse or final_loss"] });
});
