// Fixtures in fixtures/*.npy were written by numpy.save (see their generator in the commit message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseNpy, columns2d, previewKind, imageRGBA } from "../static/frontend/npy.js";

const load = (name) => {
  const b = readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
  return parseNpy(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

test("float32 samples [3, 2] as numpy wrote them", () => {
  const a = load("samples_f4.npy");
  assert.equal(a.dtype, "<f4");
  assert.deepEqual(a.shape, [3, 2]);
  // float32 rounding of 1e-3 is the only inexact value
  assert.deepEqual(Array.from(a.data).slice(0, 5), [0.5, -1.25, 2, 3, -0.75]);
  assert.ok(Math.abs(a.data[5] - 1e-3) < 1e-10);
  const [xs, ys] = columns2d(a);
  assert.deepEqual(Array.from(xs), [0.5, 2, -0.75]);
  assert.deepEqual(Array.from(ys).slice(0, 2), [-1.25, 3]);
  assert.equal(previewKind(a), "scatter");
});

test("version 2.0 header", () => {
  const a = load("samples_v2.npy");
  assert.deepEqual(a.shape, [1, 2]);
  assert.deepEqual(Array.from(a.data), [1, 2]);
});

test("int64 tokens become plain numbers and preview as sequences", () => {
  const a = load("tokens_i8.npy");
  assert.deepEqual(a.shape, [2, 4]);
  assert.deepEqual(Array.from(a.data), [0, 1, 2, 3, 3, 2, 1, 0]);
  assert.equal(previewKind(a), "sequences");
});

test("image batch [2, 1, 4, 4] scales to 0..255 over the batch", () => {
  const a = load("images_f8.npy");
  assert.equal(previewKind(a), "images");
  const img = imageRGBA(a, 1);
  assert.equal(img.width, 4);
  assert.equal(img.height, 4);
  // values 16..31 of 0..31: first pixel 16 * 255 / 31
  assert.equal(img.rgba[0], 132); // Uint8ClampedArray rounds 131.6 to 132
  assert.equal(img.rgba[img.rgba.length - 4], 255);
  assert.equal(img.rgba[3], 255);
});

test("garbage is refused", () => {
  assert.throws(() => parseNpy(new TextEncoder().encode("hello world!").buffer), /not a .npy/);
});
