import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultAxes, numericKeys, tradeoffPoints } from "../static/frontend/tradeoff.js";

const results = {
  3: { true_activity_median: 2.0, kmer_corr: 0.3, method: "drakes", diversity: 19 },
  1: { true_activity_median: 1.4, kmer_corr: 0.89, method: "drakes" },
  2: { true_activity_median: 0.5, kmer_corr: 0.88, diversity: null },
};

test("numeric keys are those with a finite number in two jobs or more", () => {
  assert.deepEqual(numericKeys(results), ["kmer_corr", "true_activity_median"]);
});

test("the DRAKES pair is the default axes when present, else the first two keys", () => {
  assert.deepEqual(defaultAxes(["kmer_corr", "true_activity_median"]), ["kmer_corr", "true_activity_median"]);
  assert.deepEqual(defaultAxes(["a", "b", "c"]), ["a", "b"]);
});

test("one point per job that has both values, sorted by x", () => {
  assert.deepEqual(tradeoffPoints(results, "kmer_corr", "true_activity_median"),
    [{ id: 3, x: 0.3, y: 2.0 }, { id: 2, x: 0.88, y: 0.5 }, { id: 1, x: 0.89, y: 1.4 }]);
  assert.deepEqual(tradeoffPoints(results, "diversity", "kmer_corr"), [{ id: 3, x: 19, y: 0.3 }]);
});
