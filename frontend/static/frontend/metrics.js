// A job's metrics, shaped for its page: a curve for each metric reported at two steps or more, and the
// ones reported once (an error at the end, a final score) as rows of the result table. Pure: no DOM.

/** Points of one metric by step. Steps arrive in order from one run; a retried attempt may repeat steps:
 * the latest report of a step wins. */
export class MetricSeries {
  constructor() {
    this.xs = [];
    this.ys = [];
  }

  add(step, value) {
    let i = this.xs.length;
    while (i > 0 && this.xs[i - 1] >= step) i--;
    this.xs.length = i;
    this.ys.length = i;
    this.xs.push(step);
    this.ys.push(value);
  }

  get size() {
    return this.xs.length;
  }
}

/** Rows of the result table: the job's result (nested keys dotted), then each single-value metric the
 * result does not already hold. */
export function resultRows(flatResult, singles) {
  const rows = Object.entries(flatResult ?? {});
  const have = new Set(rows.map(([k]) => k));
  for (const [name, value] of Object.entries(singles ?? {})) if (!have.has(name)) rows.push([name, value]);
  return rows;
}
