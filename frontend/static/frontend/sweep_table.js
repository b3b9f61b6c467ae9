// Which trials the sweep page's table shows, and in what order: a status, a text matched against the
// params and note, and an order (by trial number, or best value first). Pure: node-tested.
import { formatValue } from "./format.js";

/** The rows to show. `goal` ("min" | "max") orders by the first objective; unscored trials go last. */
export function visibleTrials(rows, { status = "", text = "", order = "number" } = {}, goal = "min") {
  const needle = text.trim().toLowerCase();
  const shown = rows.filter((r) => (!status || r.status === status)
    && (!needle || haystack(r).includes(needle)));
  if (order !== "best") return [...shown].sort((a, b) => a.number - b.number);
  const value = (r) => (Array.isArray(r.values) && Number.isFinite(r.values[0]) ? r.values[0] : null);
  const sign = goal === "max" ? -1 : 1;
  return [...shown].sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === null || vb === null) return (va === null) - (vb === null) || a.number - b.number;
    return sign * (va - vb) || a.number - b.number;
  });
}

/** The statuses present, for the filter's options, in the order a run goes through them. */
export function statusesOf(rows) {
  const order = ["queued", "running", "succeeded", "failed", "cancelled", "deleted"];
  const present = new Set(rows.map((r) => r.status));
  return [...order.filter((s) => present.has(s)), ...[...present].filter((s) => !order.includes(s)).sort()];
}

function haystack(r) {
  return [...Object.entries(r.params ?? {}).map(([k, v]) => `${k}=${formatValue(v)}`), r.note ?? "", `#${r.job}`]
    .join(" ").toLowerCase();
}
