import { test } from "node:test";
import assert from "node:assert/strict";
import { estimateEta, EtaTracker } from "../static/frontend/eta.js";

test("constant rate: 10% per 5 s at 40% leaves 30 s", () => {
  const samples = [0, 1, 2, 3, 4].map((i) => ({ t: 5 * i, p: 0.1 * i }));
  // exact up to float rounding of 0.1 * i
  assert.ok(Math.abs(estimateEta(samples) - 30) < 1e-9);
});

test("not enough information gives null; done gives 0", () => {
  assert.equal(estimateEta([]), null);
  assert.equal(estimateEta([{ t: 0, p: 0.2 }]), null);
  assert.equal(estimateEta([{ t: 0, p: 0.2 }, { t: 5, p: 0.2 }]), null);
  assert.equal(estimateEta([{ t: 0, p: 0.2 }, { t: 5, p: 1 }]), 0);
});

test("the rate comes from the recent window, not a slow start", () => {
  // 100 s of loading with no progress, then 1% per second.
  const samples = [{ t: 0, p: 0 }, { t: 100, p: 0 }];
  for (let i = 1; i <= 50; i++) samples.push({ t: 100 + i, p: i / 100 });
  assert.ok(Math.abs(estimateEta(samples, 30) - 50) < 1e-9);
});

test("a new attempt (progress going back) restarts the estimate", () => {
  const e = new EtaTracker(60);
  e.add(0, 0.5);
  e.add(10, 0.6);
  e.add(20, 0.1); // attempt 2 restarts from a checkpoint
  assert.equal(e.eta(), null);
  e.add(30, 0.2);
  assert.ok(Math.abs(e.eta() - 80) < 1e-9);
});

test("EtaTracker keeps only the window", () => {
  const e = new EtaTracker(10);
  for (let t = 0; t <= 100; t++) e.add(t, t / 200);
  assert.ok(e.samples.length <= 13);
  assert.ok(Math.abs(e.eta() - 100) < 1e-9);
});
