import { test } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatDuration, formatValue, flatten } from "../static/frontend/format.js";

test("sizes and durations", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(50 * 1024 * 1024), "50 MiB");
  assert.equal(formatDuration(42), "42s");
  assert.equal(formatDuration(185), "3m 05s");
  assert.equal(formatDuration(3720), "1h 02m");
  assert.equal(formatDuration(null), "");
});

test("values and flattened params", () => {
  assert.equal(formatValue(0.123456789), "0.12346");
  assert.equal(formatValue(1e-7), "1.000e-7");
  assert.equal(formatValue(3), "3");
  assert.equal(formatValue([1, 2]), "[1,2]");
  assert.deepEqual(flatten({ a: { b: 1, c: { d: "x" } }, e: [1], f: {} }), { "a.b": 1, "a.c.d": "x", e: [1], f: {} });
});

test("a waiting job's position and reason", async () => {
  const { formatWaiting } = await import("../static/frontend/format.js");
  assert.equal(formatWaiting(3, "2 jobs ahead of you on gpu"), "#3 in queue: 2 jobs ahead of you on gpu");
  assert.equal(formatWaiting(null, "waiting: no worker on queue gpu"), "waiting: no worker on queue gpu");
  assert.equal(formatWaiting(2, "waiting: no worker on queue gpu"), "waiting: no worker on queue gpu");
  assert.equal(formatWaiting(1, null), "");
});
