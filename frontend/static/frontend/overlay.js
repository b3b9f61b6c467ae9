// Data for Compare's overlaid curves: one x axis (the union of the jobs' steps), one series per
// job with gaps where a job has no point. When every job has a single point for a metric (a
// sampler's error at its NFE), an extra series joins them across jobs: the error-vs-NFE curve.

/** `runs` = [{label, points: Map(name -> [[step, value]])}] -> {steps, series: [{label, values}]}. */
export function overlayData(runs, name) {
  const steps = [...new Set(runs.flatMap((r) => (r.points.get(name) ?? []).map((p) => p[0])))].sort((a, b) => a - b);
  const series = runs.map((r) => {
    const byStep = new Map(r.points.get(name) ?? []);
    return { label: r.label, values: steps.map((s) => (byStep.has(s) ? byStep.get(s) : null)) };
  });
  const single = runs.filter((r) => (r.points.get(name) ?? []).length === 1);
  if (single.length >= 2 && single.length === runs.filter((r) => r.points.has(name)).length) {
    const across = new Map();
    for (const r of single) {
      const [step, value] = r.points.get(name)[0];
      (across.get(step) ?? across.set(step, []).get(step)).push(value);
    }
    // several jobs at one step (same NFE, other seeds): their mean
    series.push({ label: "across jobs", values: steps.map((s) => {
      const v = across.get(s);
      return v ? v.reduce((a, b) => a + b, 0) / v.length : null;
    }), joined: true });
  }
  return { steps, series };
}

export function metricNames(runs) {
  return [...new Set(runs.flatMap((r) => [...r.points.keys()]))].sort();
}
