// The Upload page: the file goes up over tus (tus-js-client, in chunks of the server's
// LAB_UPLOAD_CHUNK_BYTES) to
// /api/uploads/, resuming where the server stands (tus-js-client remembers the upload by file in
// localStorage); once complete, POST /api/artifacts/ with its id validates it and makes it an artifact.
import { api, csrfToken, h } from "./api.js";
import { formatBytes as bytes } from "./format.js";
import { errorText } from "./schema.js";

const FORMATS = { model: ["diffusers", "transformers", "lab"], dataset: ["npy", "text", "fasta", "csv"] };
const boot = JSON.parse(document.getElementById("boot").textContent);
const form = document.getElementById("upload-form");
const kind = form.elements.kind;
const format = form.elements.format;
const error = document.getElementById("upload-error");
const bar = document.getElementById("upload-bar");
const sent = document.getElementById("upload-sent");
const result = document.getElementById("upload-result");
const pause = document.getElementById("upload-pause");
const resume = document.getElementById("upload-resume");
const start = document.getElementById("upload-start");
let current = null;

function fillFormats() {
  format.replaceChildren(...FORMATS[kind.value].map((f) => h("option", { value: f }, f)));
}
kind.addEventListener("change", fillFormats);
fillFormats();

function showProgress(done, total) {
  document.getElementById("upload-progress").hidden = false;
  bar.value = total ? done / total : 0;
  sent.textContent = `${bytes(done)} of ${bytes(total)} (${Math.floor((100 * done) / Math.max(total, 1))}%)`;
}

function idle() {
  current = null;
  pause.hidden = resume.hidden = true;
  start.disabled = false;
}

async function finish(upload) {
  const guid = upload.url.replace(/\/+$/, "").split("/").pop();
  sent.textContent += " — checking…";
  const r = await api("/api/artifacts/", { method: "POST", body: {
    upload: guid, kind: kind.value, format: format.value, project: boot.project } });
  idle();
  if (!r.ok) {
    error.textContent = errorText(r.data);
    return;
  }
  const a = r.data;
  result.replaceChildren(h("p", {}, `Artifact #${a.id} (${a.name}, ${bytes(a.size)}) stored; `,
    a.status === "succeeded" ? "ready to use." : "its model is being loaded by a worker: ",
    h("a", { href: `/jobs/${a.job}/`, "data-validation": a.job }, `validation job #${a.job}`), ` (${a.status}).`));
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  result.replaceChildren();
  const file = form.elements.file.files[0];
  if (!file) return;
  if (file.size > boot.max_bytes) {
    error.textContent = `${file.name} is ${bytes(file.size)}, more than the limit of ${bytes(boot.max_bytes)} per file.`;
    return;
  }
  const upload = new window.tus.Upload(file, {
    endpoint: "/api/uploads/",
    chunkSize: boot.chunk_bytes,
    retryDelays: [0, 1000, 3000, 5000],
    metadata: { filename: file.name },
    headers: { "X-CSRFToken": csrfToken() },
    removeFingerprintOnSuccess: true,
    onProgress: showProgress,
    onError: (err) => {
      idle();
      const answer = err.originalResponse ? err.originalResponse.getBody() : "";
      error.textContent = `Upload stopped: ${answer || err.message}. Choose the file again to resume.`;
    },
    onSuccess: () => finish(upload),
  });
  current = upload;
  start.disabled = true;
  pause.hidden = false;
  // an earlier, unfinished upload of this same file: go on from where the server stands
  const previous = await upload.findPreviousUploads();
  if (previous.length) {
    upload.resumeFromPreviousUpload(previous[0]);
    sent.textContent = "resuming…";
  }
  upload.start();
});

pause.addEventListener("click", () => {
  if (!current) return;
  current.abort();
  pause.hidden = true;
  resume.hidden = false;
});
resume.addEventListener("click", () => {
  if (!current) return;
  current.start();
  resume.hidden = true;
  pause.hidden = false;
});
