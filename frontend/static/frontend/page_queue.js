// Queue: per queue, what runs, what waits in the scheduler's order and why, and who used it the last day.
import { api, h } from "./api.js";
import { formatDuration } from "./format.js";

const root = document.getElementById("queues");
const state = document.getElementById("refresh-state");
const REFRESH_MS = 5000;

function jobCell(j) {
  if (j.id == null) return h("span", { class: "muted" }, "a job of another project");
  return h("span", {}, h("a", { href: `/jobs/${j.id}/` }, j.name || j.kind), " ", h("span", { class: "muted" }, `#${j.id}`));
}

function jobTable(caption, head, rows, empty) {
  return h("div", { class: "table-wrap" }, h("table", { class: "queue" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td", { colspan: String(head.length), class: "empty" }, empty))])));
}

function section(q) {
  const running = q.running.map((j) => h("tr", {}, h("td", {}, jobCell(j)), h("td", {}, j.owner ?? "—"),
    h("td", {}, j.priority), h("td", {}, j.worker || "—")));
  const waiting = q.waiting.map((j) => h("tr", { "data-job": String(j.id ?? "") },
    h("td", {}, String(j.queue_position)), h("td", {}, jobCell(j)), h("td", {}, j.owner ?? "—"),
    h("td", {}, j.priority), h("td", { class: "reason" }, j.waiting_reason)));
  const shares = q.shares.map((s) => h("tr", {}, h("th", { scope: "row" }, s.user),
    h("td", {}, formatDuration(s.seconds)),
    h("td", {}, h("meter", { min: "0", max: "1", value: String(s.share), "aria-label": `${s.user}'s share` }),
      ` ${Math.round(s.share * 100)}%`)));
  return h("section", { class: "queue", "data-queue": q.queue },
    h("h2", {}, `${q.queue} `, h("span", { class: "muted" },
      q.workers.length ? `${q.slots} slot${q.slots === 1 ? "" : "s"} on ${q.workers.join(", ")}` : "no worker online")),
    jobTable(`Running on ${q.queue}`, ["Job", "Owner", "Priority", "Worker"], running, "Nothing runs."),
    jobTable(`Waiting on ${q.queue}, in the order they will start` +
      (q.waiting_count > q.waiting.length ? ` (the first ${q.waiting.length} of ${q.waiting_count})` : ""), ["#", "Job", "Owner", "Priority", "Why it waits"],
      waiting, "Nothing waits."),
    jobTable(`Share of ${q.queue} over the last day (worker time)`, ["User", "Time", "Share"], shares,
      "No job ran in the last day."));
}

async function refresh() {
  const r = await api("/api/queue/");
  if (!r.ok) {
    state.textContent = `Could not load the queue (${r.status}).`;
  } else {
    root.replaceChildren(...(r.data.length ? r.data.map(section)
      : [h("p", { class: "empty" }, "No queue has a worker or a job.")]));
    state.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }
  setTimeout(refresh, REFRESH_MS);
}

refresh();
