import { test } from "node:test";
import assert from "node:assert/strict";
import { objectiveAgainst, paramAxis, parallelCoordinates, paretoFront, scored }
  from "../static/frontend/sweep_plots.js";

const space = { sampler: { values: ["ddim", "deis_3", "pndm"] }, nfe: { values: [5, 10] },
  lr: { low: 1e-4, high: 1e-2, log: true } };
const rows = [
  { job: 7, params: { sampler: "pndm", nfe: 10, lr: 1e-3 }, values: [0.2] },
  { job: 5, params: { sampler: "ddim", nfe: 5, lr: 1e-4 }, values: [0.9] },
  { job: 6, params: { sampler: "deis_3", nfe: 10, lr: 1e-2 }, values: [0.1] },
  { job: 8, params: { sampler: "ddim", nfe: 10, lr: 1e-3 }, values: null },  // failed: no value
];

test("a list of names is an axis of indexes in the space's order; numbers stay numbers", () => {
  const a = paramAxis(space.sampler, ["pndm", "ddim"]);
  assert.equal(a.numeric, false);
  assert.deepEqual([a.position("ddim"), a.position("pndm")], [0, 2]);
  assert.deepEqual(a.labels, ["ddim", "deis_3", "pndm"]);
  assert.equal(paramAxis(space.nfe, [5, 10]).position(10), 10);
});

test("the objective against a param: scored trials only, sorted by x", () => {
  assert.deepEqual(scored(rows).map((r) => r.job), [7, 5, 6]);
  assert.deepEqual(objectiveAgainst(rows, space, "sampler").points,
    [{ job: 5, x: 0, y: 0.9 }, { job: 6, x: 1, y: 0.1 }, { job: 7, x: 2, y: 0.2 }]);
});

test("parallel coordinates scale every axis to [0, 1], a log param by its log", () => {
  const pc = parallelCoordinates(rows, space);
  assert.deepEqual(pc.axes, ["sampler", "nfe", "lr", "objective"]);
  const byJob = Object.fromEntries(pc.lines.map((l) => [l.job, l.ys]));
  // lr 1e-4, 1e-3, 1e-2 are 0, 1/2, 1 on a log scale; objective 0.1..0.9
  assert.deepEqual(byJob[5].map((v) => +v.toFixed(6)), [0, 0, 0, 1]);
  assert.deepEqual(byJob[7].map((v) => +v.toFixed(6)), [1, 1, 0.5, 0.125]);
  assert.deepEqual(byJob[6].map((v) => +v.toFixed(6)), [0.5, 1, 1, 0]);
});

test("the Pareto front of two objectives to maximise", () => {
  const two = [
    { job: 1, params: {}, values: [2.0, 0.30] },
    { job: 2, params: {}, values: [1.4, 0.89] },
    { job: 3, params: {}, values: [0.5, 0.88] },  // dominated by 2
    { job: 4, params: {}, values: [1.9, 0.30] },  // dominated by 1
    { job: 5, params: {}, values: [1.6, 0.60] },
  ];
  assert.deepEqual(paretoFront(two, ["max", "max"]).map((r) => r.job), [2, 5, 1]);
  assert.deepEqual(paretoFront(two, ["min", "min"]).map((r) => r.job), [3, 5, 4]);
});
