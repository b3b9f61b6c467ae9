import { test } from "node:test";
import assert from "node:assert/strict";
import { previewUrl } from "../static/frontend/previews.js";

test("previews ask for the bytes as previews, so the audit log tells them from downloads", () => {
  assert.equal(previewUrl({ url: "/api/artifacts/7/download/" }), "/api/artifacts/7/download/?preview=1");
  assert.equal(previewUrl({ url: "/api/artifacts/7/download/?x=1" }), "/api/artifacts/7/download/?x=1&preview=1");
});
