// Jobs list: statuses and progress follow /ws/jobs/ (status + progress of my projects' jobs) without a reload.
import { openEventStream, reconnectOnWake, jobSocketUrl } from "./events.js";
import { api, statusBadge } from "./api.js";
import { formatBytes, formatWaiting, TERMINAL } from "./format.js";

const rows = new Map([...document.querySelectorAll("tr[data-job]")].map((tr) => [Number(tr.dataset.job), tr]));
const liveState = document.getElementById("live-state");
let pending = null;  // the job whose Delete waits for confirmation

// The scheduler's line under a queued job's badge: {queue_position, waiting_reason}, from the API
// or from the "queue" messages the scheduler pushes when positions move.
function showWaiting(tr, status, position, reason) {
  const line = tr.querySelector(".waiting");
  if (!line) return;
  line.textContent = status === "queued" ? formatWaiting(position, reason) : "";
}

function update(id, { status, progress, queue_position, waiting_reason }) {
  const tr = rows.get(id);
  if (!tr) {
    // A job made elsewhere (another tab, a script): offer to show it rather than reshuffle the page.
    if (status === "queued") document.getElementById("new-jobs").hidden = false;
    return;
  }
  if (waiting_reason !== undefined) showWaiting(tr, status ?? tr.querySelector(".badge")?.dataset.status,
    queue_position, waiting_reason);
  if (status && tr.querySelector(".badge")?.dataset.status !== status) {
    const line = tr.querySelector(".waiting");
    tr.querySelector(".status-cell").replaceChildren(statusBadge(status), ...(line ? [line] : []));
    if (status !== "queued") showWaiting(tr, status);
    if (status === "succeeded") progress = 1;
    tr.querySelector("button.delete").hidden = !TERMINAL.has(status);  // a live job cannot be deleted
    if (!TERMINAL.has(status) && pending === id) askDelete(null);
  }
  if (typeof progress === "number") {
    const bar = tr.querySelector("progress");
    bar.value = progress;
    bar.textContent = `${Math.round(progress * 100)}%`;
  }
}

// /ws/jobs/ carries the jobs of all my projects; this page lists the current one's
const project = Number(document.querySelector("table.jobs")?.dataset.project ?? NaN);

function onEvent(event) {
  if (event.project !== undefined && event.project !== project && !rows.has(Number(event.job))) return;
  const id = Number(event.job);
  const d = event.data ?? {};
  if (event.type === "queue") {
    for (const [job, w] of Object.entries(d.jobs ?? {})) {
      if (rows.has(Number(job))) update(Number(job), { queue_position: w.queue_position, waiting_reason: w.waiting_reason });
    }
    return;
  }
  if (event.type === "status") update(id, { status: d.status });
  else if (event.type === "progress" && d.total) update(id, { progress: d.done / d.total });
}

// The socket carries changes only: after (re)connecting, re-read the rows that can still change.
async function snapshot() {
  const open = [...rows].filter(([, tr]) => !TERMINAL.has(tr.querySelector(".badge")?.dataset.status));
  await Promise.all(open.map(async ([id]) => {
    const r = await api(`/api/jobs/${id}/`);
    if (r.ok) update(id, r.data);
  }));
}

const stream = openEventStream({
  makeUrl: () => `${jobSocketUrl(location, null, null)}?queue=1`,  // with the scheduler's positions
  tracked: false,
  onEvent,
  onState: (s) => {
    liveState.textContent = s === "open" ? "live" : s === "closed" ? "reconnecting…" : "";
    liveState.dataset.state = s;
  },
  onOpen: snapshot,
});
reconnectOnWake(stream);

// Delete asks first, as on the job page: the row's button opens one confirmation, and only its own
// button deletes (DELETE /api/jobs/<id>/, the same service as the job page's and the API's).
const confirmBox = document.getElementById("delete-confirm");
const deletedNote = document.getElementById("deleted-note");

function askDelete(id) {
  pending = id;
  confirmBox.hidden = id === null;
  document.getElementById("delete-state").textContent = "";
  for (const [jobId, tr] of rows) tr.querySelector("button.delete").setAttribute("aria-expanded", String(jobId === id));
  if (id === null) return;
  document.getElementById("delete-id").textContent = id;
  document.getElementById("delete-size").textContent = formatBytes(Number(rows.get(id).dataset.bytes));
  document.getElementById("delete-no").focus();
}

for (const [id, tr] of rows) {
  tr.querySelector("button.delete").addEventListener("click", () => askDelete(pending === id ? null : id));
}
document.getElementById("delete-no")?.addEventListener("click", () => {
  const id = pending;
  askDelete(null);
  rows.get(id)?.querySelector("button.delete").focus();
});
document.getElementById("delete-yes")?.addEventListener("click", async (ev) => {
  const id = pending;
  ev.target.disabled = true;
  const r = await api(`/api/jobs/${id}/`, { method: "DELETE" });
  ev.target.disabled = false;
  if (!r.ok && r.status !== 404) {  // 409: it started again, or a live job uses its model
    document.getElementById("delete-state").textContent = `Delete failed: ${r.data?.detail ?? r.status}`;
    return;
  }
  askDelete(null);
  rows.get(id).remove();
  rows.delete(id);
  deletedNote.textContent = `Job #${id} was deleted, with its events and files.`;
  deletedNote.hidden = false;
});
