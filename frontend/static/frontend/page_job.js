// Job page: replays the job's events from the websocket, then follows them live.
import { openEventStream, reconnectOnWake, jobSocketUrl } from "./events.js";
import { EtaTracker } from "./eta.js";
import { MetricCharts } from "./charts.js";
import { resultRows } from "./metrics.js";
import { previewFor } from "./previews.js";
import { api, bootData, h, statusBadge } from "./api.js";
import { formatBytes, formatDuration, formatValue, flatten, formatWaiting, TERMINAL } from "./format.js";

const LOG_LINES = 1000;
const boot = bootData();
const $ = (id) => document.getElementById(id);
const eta = new EtaTracker();
let status = boot.status;
let logLines = [];
let refreshTimer = null;
const previewed = new Set();

let lastResult = null;
let singleMetrics = {};
const charts = new MetricCharts($("charts"), {
  onFirst: () => $("no-metrics")?.remove(),
  onSingles: (singles) => {
    singleMetrics = singles;
    const note = $("no-metrics");
    if (note && Object.keys(singles).length) note.textContent = "Values reported once are in the result table.";
    showResult();
  },
});

function setProgress(p) {
  const v = Math.max(0, Math.min(1, p));
  $("progress").value = v;
  $("progress").textContent = `${Math.round(v * 100)}%`;
  $("progress-text").textContent = `${Math.round(v * 100)}%`;
}

function showEta() {
  const s = status === "running" ? eta.eta() : null;
  $("eta").textContent = s == null || s === 0 ? "" : `about ${formatDuration(s)} left`;
}

function setStatus(next) {
  status = next;
  $("status").replaceChildren(statusBadge(next));
  const done = TERMINAL.has(next);
  $("cancel").hidden = done;
  $("retry").hidden = !done;
  $("delete").hidden = !done;
  if (!done) showDeleteConfirm(false);
  if (next === "succeeded") setProgress(1);
  if (done) $("eta").textContent = "";
}

function appendLog(text) {
  logLines.push(...String(text).split("\n"));
  if (logLines.length > LOG_LINES) logLines = logLines.slice(-LOG_LINES);
  const pre = $("log");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = logLines.join("\n");
  if (atBottom) pre.scrollTop = pre.scrollHeight;
}

function table(obj, caption, rows = Object.entries(flatten(obj))) {
  if (!rows.length) return h("p", { class: "empty" }, "—");
  return h("table", { class: "kv" }, h("caption", { class: "visually-hidden" }, caption),
    h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, formatValue(v))))));
}

// the job's result, and the metrics reported once (see MetricCharts) beside it
function showResult() {
  const rows = resultRows(flatten(lastResult), singleMetrics);
  $("result").replaceChildren(rows.length ? table(null, "result", rows) : h("p", { class: "empty" }, "No result yet."));
}

function showWaiting(jobStatus, position, reason) {
  const text = jobStatus === "queued" ? formatWaiting(position, reason) : "";
  $("waiting").hidden = !text;
  $("waiting").textContent = text;
}

function renderJob(job) {
  if (job.status && job.status !== status) setStatus(job.status);
  // Events are fresher than the row; only let the row move the bar forward.
  if (typeof job.progress === "number" && job.progress > $("progress").value) setProgress(job.progress);
  $("params").replaceChildren(table(job.params, "params"));
  lastResult = job.result;
  showResult();
  $("error").hidden = !job.error;
  $("error").textContent = job.error ?? "";
  showWaiting(job.status, job.queue_position, job.waiting_reason);
  if (job.worker) $("worker").textContent = job.worker;
  if (job.devices != null) $("devices").textContent = devicesText(job);
  if (job.attempts != null) $("attempts").textContent = `${job.attempts} of ${job.max_attempts ?? "?"}`;
  if (job.bytes_stored) {
    $("stored").textContent = formatBytes(job.bytes_stored);
    $("delete-size").textContent = formatBytes(job.bytes_stored);
  }
  if (job.started_at) {
    const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
    $("duration").textContent = formatDuration((end - Date.parse(job.started_at)) / 1000);
  }
}

// "2: 0, 1 on w@host"; a multi-node training "2 per node: 0, 1 on a@h; 2, 3 on b@h", or before it
// starts the workers its admission reserved
function devicesText(job) {
  const perNode = job.reserved_workers && job.reserved_workers.length > 1 ? " per node" : "";
  const got = Object.entries(job.assigned_devices ?? {});
  if (got.length) return `${job.devices}${perNode}: ` + got.map(([w, ids]) => `${ids.join(", ")} on ${w}`).join("; ");
  if (perNode) return `${job.devices} per node, on ${job.reserved_workers.join(", ")} (reserved)`;
  return String(job.devices);
}

async function refreshJob() {
  const r = await api(`/api/jobs/${boot.id}/`);
  if (r.ok) renderJob(r.data);
  // While queued, the reason can change (a worker comes online) without any event.
  clearTimeout(refreshTimer);
  if (status === "queued") refreshTimer = setTimeout(refreshJob, 5000);
}

async function refreshArtifacts() {
  const r = await api(`/api/jobs/${boot.id}/artifacts/`);
  if (!r.ok) return;
  const list = r.data.results ?? r.data;
  if (!list.length) return;
  $("artifacts").replaceChildren(h("div", { class: "table-wrap" }, h("table", { class: "artifacts" },
    h("thead", {}, h("tr", {}, ["Name", "Kind", "Size", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((a) => h("tr", {},
      h("td", {}, a.name), h("td", {}, a.kind), h("td", {}, formatBytes(a.size)),
      h("td", {}, h("a", { href: a.url, download: a.name, "aria-label": `Download ${a.name}` }, "Download"))))))));
  for (const a of list) {
    if (previewed.has(a.id) || a.partial) continue;
    previewed.add(a.id);
    previewFor(a).then((el) => {
      if (!el) return;
      $("previews").append(el);
      el.draw?.();
    }).catch((err) => console.warn("preview", a.name, err));
  }
}

let artifactTimer = null;
function scheduleArtifacts() {
  clearTimeout(artifactTimer);
  artifactTimer = setTimeout(refreshArtifacts, 300);
}

function tsSeconds(event) {
  const t = Date.parse(event.ts);
  return (Number.isFinite(t) ? t : Date.now()) / 1000;
}

function onEvent(event) {
  const d = event.data ?? {};
  switch (event.type) {
    case "progress": {
      const p = d.total ? d.done / d.total : 0;
      eta.add(tsSeconds(event), p);
      setProgress(p);
      showEta();
      break;
    }
    case "metric":
      charts.add(d.name, d.step, d.value);
      break;
    case "log":
      appendLog(d.text);
      break;
    case "artifact":
      scheduleArtifacts();
      break;
    case "status":
      setStatus(d.status);
      if (d.error) {
        $("error").hidden = false;
        $("error").textContent = d.error;
      }
      refreshJob();
      if (TERMINAL.has(d.status)) scheduleArtifacts();
      break;
    default:
      break;
  }
}

const STATES = { connecting: "connecting…", open: "live", closed: "reconnecting…", fatal: "not available" };
const stream = openEventStream({
  makeUrl: (after) => jobSocketUrl(location, boot.id, after),
  onEvent,
  onState: (s) => {
    $("live-state").textContent = STATES[s] ?? "";
    $("live-state").dataset.state = s;
  },
  // After a reconnect the job row may have moved on (result, worker) while we were away.
  onOpen: () => refreshJob(),
});
reconnectOnWake(stream);

// While the job waits, its place in the queue moves as others start: the scheduler pushes the
// new positions to the project's stream (/ws/jobs/), which this page follows until the job starts.
let queueStream = null;
function followQueue() {
  if (status !== "queued" || queueStream) return;
  queueStream = openEventStream({
    makeUrl: () => `${jobSocketUrl(location, null, null)}?queue=1`,  // with the scheduler's positions
    tracked: false,
    onEvent: (event) => {
      const mine = event.type === "queue" ? event.data?.jobs?.[String(boot.id)] : null;
      if (mine && status === "queued") showWaiting(status, mine.queue_position, mine.waiting_reason);
      if (event.type === "status" && Number(event.job) === boot.id && event.data?.status !== "queued") {
        queueStream.close();
      }
    },
    onOpen: () => refreshJob(),
  });
}
followQueue();

async function act(path, label) {
  $("action-state").textContent = `${label}…`;
  const r = await api(path, { method: "POST" });
  if (!r.ok) {
    $("action-state").textContent = `${label} failed: ${r.data?.detail ?? r.status}`;
    return null;
  }
  $("action-state").textContent = "";
  return r.data;
}

$("cancel").addEventListener("click", async () => {
  $("cancel").disabled = true;
  const job = await act(`/api/jobs/${boot.id}/cancel/`, "Cancelling");
  $("cancel").disabled = false;
  // a running job stops at its next step; the status event then updates the page
  if (job) $("action-state").textContent = job.status === "cancelled" ? "" : "Cancel requested…";
});

$("retry").addEventListener("click", async () => {
  const job = await act(`/api/jobs/${boot.id}/retry/`, "Retrying");
  if (job?.id) location.assign(`/jobs/${job.id}/`);
});

// Delete asks first: the button opens a confirmation, and only its own button deletes.
function showDeleteConfirm(open) {
  $("delete-confirm").hidden = !open;
  $("delete").setAttribute("aria-expanded", String(open));
  if (open) $("delete-no").focus();
}

$("delete").addEventListener("click", () => showDeleteConfirm($("delete-confirm").hidden));
$("delete-no").addEventListener("click", () => {
  showDeleteConfirm(false);
  $("delete").focus();
});
$("delete-yes").addEventListener("click", async () => {
  $("delete-yes").disabled = true;
  $("action-state").textContent = "Deleting…";
  const r = await api(`/api/jobs/${boot.id}/`, { method: "DELETE" });
  $("delete-yes").disabled = false;
  showDeleteConfirm(false);
  if (!r.ok) {
    // 409: it is running again, or a live job uses its model; the answer says which
    $("action-state").textContent = `Delete failed: ${r.data?.detail ?? r.status}`;
    return;
  }
  stream.close();
  location.assign(`/?deleted=${boot.id}`);
});

refreshArtifacts();
