// Data for Compare's trade-off scatter: one point per job, two of its numeric results (a sweep's
// reward against its naturalness, a sampler's error against its NFE). Pure functions: node-tested.

/** Keys whose value is a finite number in at least two of the jobs' (flattened) results. */
export function numericKeys(results) {
  const count = new Map();
  for (const r of Object.values(results)) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === "number" && Number.isFinite(v)) count.set(k, (count.get(k) ?? 0) + 1);
    }
  }
  return [...count].filter(([, n]) => n >= 2).map(([k]) => k).sort();
}

/** The default axes: the preferred pair when both are there, else the first two numeric keys. */
export function defaultAxes(keys, preferred = [["kmer_corr", "true_activity_median"], ["nfe_used", "exact_rmse"]]) {
  for (const [x, y] of preferred) if (keys.includes(x) && keys.includes(y)) return [x, y];
  return [keys[0], keys[1] ?? keys[0]];
}

/** [{id, x, y}] of the jobs that have both values, sorted by x (uPlot draws along increasing x). */
export function tradeoffPoints(results, xKey, yKey) {
  const ok = (v) => typeof v === "number" && Number.isFinite(v);
  return Object.entries(results)
    .filter(([, r]) => ok(r[xKey]) && ok(r[yKey]))
    .map(([id, r]) => ({ id: Number(id), x: r[xKey], y: r[yKey] }))
    .sort((a, b) => a.x - b.x || a.id - b.id);
}
