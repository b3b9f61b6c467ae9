import { test } from "node:test";
import assert from "node:assert/strict";
import { overlayData, metricNames } from "../static/frontend/overlay.js";

const run = (label, pts) => ({ label, points: new Map(Object.entries(pts)) });

test("curves share the union of steps, with gaps where a job has no point", () => {
  const runs = [run("#1", { loss: [[0, 1], [2, 0.5]] }), run("#2", { loss: [[1, 0.9], [2, 0.4]], kl: [[0, 0]] })];
  assert.deepEqual(metricNames(runs), ["kl", "loss"]);
  const { steps, series } = overlayData(runs, "loss");
  assert.deepEqual(steps, [0, 1, 2]);
  assert.deepEqual(series.map((s) => s.values), [[1, null, 0.5], [null, 0.9, 0.4]]);
});

test("one point per job (error at its NFE) adds the across-jobs curve, averaging equal steps", () => {
  const runs = [run("#1", { exact_rmse: [[10, 0.2]] }), run("#2", { exact_rmse: [[5, 0.5]] }),
    run("#3", { exact_rmse: [[10, 0.4]] })];
  const { steps, series } = overlayData(runs, "exact_rmse");
  assert.deepEqual(steps, [5, 10]);
  const across = series.find((s) => s.joined);
  assert.equal(across.label, "across jobs");
  assert.deepEqual(across.values.map((v) => Number(v.toFixed(12))), [0.5, 0.3]);
});

test("no across-jobs curve when a job has a whole curve", () => {
  const runs = [run("#1", { loss: [[10, 0.2]] }), run("#2", { loss: [[5, 0.5], [6, 0.4]] })];
  assert.equal(overlayData(runs, "loss").series.some((s) => s.joined), false);
});
