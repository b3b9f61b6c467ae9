import { test } from "node:test";
import assert from "node:assert/strict";
import { statusesOf, visibleTrials } from "../static/frontend/sweep_table.js";

const rows = [
  { number: 0, job: 10, status: "succeeded", params: { sampler: "ddim", nfe: 4 }, values: [0.30], note: "" },
  { number: 1, job: 11, status: "succeeded", params: { sampler: "dpm_solver_pp_2m", nfe: 4 }, values: [0.10], note: "" },
  { number: 2, job: 12, status: "cancelled", params: { sampler: "ddim", nfe: 8 }, values: null, note: "pruned at step 20" },
  { number: 3, job: 13, status: "running", params: { sampler: "dpm_solver_pp_2m", nfe: 8 }, values: [0.20], note: "" },
];
const jobs = (rs) => rs.map((r) => r.job);

test("by number, every row, whatever order they came in", () => {
  assert.deepEqual(jobs(visibleTrials([...rows].reverse())), [10, 11, 12, 13]);
});

test("best first follows the goal and puts unscored trials last", () => {
  assert.deepEqual(jobs(visibleTrials(rows, { order: "best" }, "min")), [11, 13, 10, 12]);
  assert.deepEqual(jobs(visibleTrials(rows, { order: "best" }, "max")), [10, 13, 11, 12]);
});

test("status and text filter together; text matches a param, its value, the note or the job", () => {
  assert.deepEqual(jobs(visibleTrials(rows, { text: "ddim" })), [10, 12]);
  assert.deepEqual(jobs(visibleTrials(rows, { text: "nfe=8" })), [12, 13]);
  assert.deepEqual(jobs(visibleTrials(rows, { text: "PRUNED" })), [12]);
  assert.deepEqual(jobs(visibleTrials(rows, { text: "#11" })), [11]);
  assert.deepEqual(jobs(visibleTrials(rows, { status: "succeeded", text: "dpm" })), [11]);
});

test("statuses in run order", () => {
  assert.deepEqual(statusesOf(rows), ["running", "succeeded", "cancelled"]);
});
