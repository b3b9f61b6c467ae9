// Small formatting helpers shared by the pages.

export function formatBytes(n) {
  if (n == null || Number.isNaN(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "1h 02m", "3m 05s", "42s". */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** A value for a result or params table cell. */
export function formatValue(v) {
  if (v == null) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** {a: {b: 1}, c: [1]} -> {"a.b": 1, "c": [1]}: nested params as table rows. */
export function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) flatten(v, key, out);
    else out[key] = v;
  }
  return out;
}

// A waiting job's line (jobs list, job page): its place on its queue and the scheduler's reason.
// Without a worker on the queue the place in it means little: the reason alone says what to do.
export function formatWaiting(position, reason) {
  if (!reason) return "";
  return position && !reason.startsWith("waiting: no worker") ? `#${position} in queue: ${reason}` : reason;
}
