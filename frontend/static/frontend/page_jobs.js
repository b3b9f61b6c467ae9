// Jobs list: statuses and progress follow /ws/jobs/ without a reload.
import { openEventStream, reconnectOnWake, jobSocketUrl } from "./events.js";
import { api, statusBadge } from "./api.js";
import { TERMINAL } from "./format.js";

const rows = new Map([...document.querySelectorAll("tr[data-job]")].map((tr) => [Number(tr.dataset.job), tr]));
const liveState = document.getElementById("live-state");

function update(id, { status, progress }) {
  const tr = rows.get(id);
  if (!tr) {
    // A job made elsewhere (another tab, a script): offer to show it rather than reshuffle the page.
    if (status === "queued") document.getElementById("new-jobs").hidden = false;
    return;
  }
  if (status && tr.querySelector(".badge")?.dataset.status !== status) {
    tr.querySelector(".status-cell").replaceChildren(statusBadge(status));
    if (status === "succeeded") progress = 1;
  }
  if (typeof progress === "number") {
    const bar = tr.querySelector("progress");
    bar.value = progress;
    bar.textContent = `${Math.round(progress * 100)}%`;
  }
}

function onEvent(event) {
  const id = Number(event.job);
  const d = event.data ?? {};
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

let polling = null;
// Progress is sent per job; if the list socket only carries status changes, refresh running rows.
function pollRunning() {
  clearTimeout(polling);
  const running = [...rows.values()].some((tr) => tr.querySelector(".badge")?.dataset.status === "running");
  if (running) polling = setTimeout(async () => {
    await snapshot();
    pollRunning();
  }, 4000);
}

const stream = openEventStream({
  makeUrl: () => jobSocketUrl(location, null, null),
  tracked: false,
  onEvent: (e) => {
    onEvent(e);
    pollRunning();
  },
  onState: (s) => {
    liveState.textContent = s === "open" ? "live" : s === "closed" ? "reconnecting…" : "";
    liveState.dataset.state = s;
  },
  onOpen: () => snapshot().then(pollRunning),
});
reconnectOnWake(stream);
