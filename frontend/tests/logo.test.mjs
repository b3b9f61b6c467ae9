import { test } from "node:test";
import assert from "node:assert/strict";
import { baseCounts, logoHeights, sequencesFromText, sequencesFromTokens } from "../static/frontend/logo.js";

test("FASTA and plain lines", () => {
  assert.deepEqual(sequencesFromText(">s1\nacgt\n\n>s2\r\nTTGA\n"), ["ACGT", "TTGA"]);
  assert.deepEqual(sequencesFromTokens({ shape: [2, 3], data: [0, 1, 2, 3, 3, 0] }), ["ACG", "TTA"]);
});

test("a conserved position carries 2 bits minus the small-sample correction", () => {
  const seqs = Array(8).fill("A").map((a, i) => a + "ACGT"[i % 4]);
  const [conserved, uniform] = logoHeights(baseCounts(seqs));
  // e_n = 3 / (2 ln2 * 8) bits (Schneider 1990, s = 4)
  const en = 3 / (2 * Math.LN2 * 8);
  assert.equal(conserved.length, 1);
  assert.equal(conserved[0].base, "A");
  assert.ok(Math.abs(conserved[0].height - (2 - en)) < 1e-12);
  // uniform: entropy 2 bits, so nothing is drawn
  assert.deepEqual(uniform, []);
});

test("letters are stacked smallest first and heights split by frequency", () => {
  const seqs = [...Array(6).fill("G"), ...Array(2).fill("C")];
  const [stack] = logoHeights(baseCounts(seqs));
  assert.deepEqual(stack.map((s) => s.base), ["C", "G"]);
  assert.ok(Math.abs(stack[1].height / stack[0].height - 3) < 1e-12);
});
