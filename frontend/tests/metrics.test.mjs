import { test } from "node:test";
import assert from "node:assert/strict";
import { MetricSeries, resultRows } from "../static/frontend/metrics.js";

test("a repeated step (a retried attempt) replaces the points from that step on", () => {
  const s = new MetricSeries();
  for (const step of [1, 2, 3]) s.add(step, step * 10);
  s.add(2, 99);
  assert.deepEqual([s.xs, s.ys], [[1, 2], [10, 99]]);
  assert.equal(s.size, 2);
});

test("single-value metrics join the result table after the result, without repeating its keys", () => {
  assert.deepEqual(resultRows({ exact_rmse: 0.5, "extra.n": 3 }, { exact_rmse: 0.49, fd: 1.2 }),
    [["exact_rmse", 0.5], ["extra.n", 3], ["fd", 1.2]]);
  assert.deepEqual(resultRows(null, { fd: 1.2 }), [["fd", 1.2]]);
  assert.deepEqual(resultRows({}, {}), []);
});
