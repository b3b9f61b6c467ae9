// Data for the sweep page's plots: objective against each swept param, parallel coordinates, and the
// Pareto front of two objectives. Pure functions over the API's `trial_rows`: node-tested.

/** An axis for a param's values: numbers stay numbers; anything else (a sampler's name, a bool) is
 * placed at the index of its value in the space's list, and `labels` names the ticks. */
export function paramAxis(dimension, values) {
  const numeric = values.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) return { numeric: true, log: Boolean(dimension?.log), position: (v) => v, labels: null };
  const order = dimension?.values ?? [...new Set(values.map((v) => JSON.stringify(v)))].map((s) => JSON.parse(s));
  const keys = order.map((v) => JSON.stringify(v));
  return { numeric: false, log: false, position: (v) => keys.indexOf(JSON.stringify(v)), labels: order.map(String) };
}

/** The trials that gave a value of objective `k` (complete in Optuna's words). */
export function scored(rows, k = 0) {
  return rows.filter((r) => Array.isArray(r.values) && typeof r.values[k] === "number" && Number.isFinite(r.values[k]));
}

/** [{job, x, y}] sorted by x: the objective (index k) against param `name` (uPlot wants increasing x). */
export function objectiveAgainst(rows, space, name, k = 0) {
  const done = scored(rows, k);
  const axis = paramAxis(space[name], done.map((r) => r.params[name]));
  const points = done.map((r) => ({ job: r.job, x: axis.position(r.params[name]), y: r.values[k] }));
  return { axis, points: points.sort((a, b) => a.x - b.x || a.job - b.job) };
}

/** Parallel coordinates: one polyline per scored trial over the axes (each param, then the objective),
 * every axis scaled to [0, 1] (log params on a log scale; a list's values by their index). */
export function parallelCoordinates(rows, space, k = 0) {
  const done = scored(rows, k);
  const names = Object.keys(space);
  const columns = names.map((n) => {
    const axis = paramAxis(space[n], done.map((r) => r.params[n]));
    return done.map((r) => {
      const p = axis.position(r.params[n]);
      return axis.log ? Math.log10(p) : p;
    });
  });
  columns.push(done.map((r) => r.values[k]));
  const scaled = columns.map((col) => {
    const lo = Math.min(...col);
    const hi = Math.max(...col);
    return col.map((v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5));
  });
  return {
    axes: [...names, "objective"],
    lines: done.map((r, i) => ({ job: r.job, value: r.values[k], ys: scaled.map((col) => col[i]) })),
  };
}

/** The trials no other trial dominates, for goals like ["max", "max"]: better or equal in both, and
 * strictly better in one. Sorted by the first objective. */
export function paretoFront(rows, goals) {
  const done = scored(rows, 0).filter((r) => typeof r.values[1] === "number");
  const sign = goals.map((g) => (g === "max" ? -1 : 1));  // compared as minimisation
  const v = (r, k) => sign[k] * r.values[k];
  const dominated = (a) => done.some((b) => b !== a && v(b, 0) <= v(a, 0) && v(b, 1) <= v(a, 1)
    && (v(b, 0) < v(a, 0) || v(b, 1) < v(a, 1)));
  return done.filter((r) => !dominated(r)).sort((a, b) => a.values[0] - b.values[0] || a.job - b.job);
}
