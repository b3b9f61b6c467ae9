// uPlot charts of the sweep page. The data comes shaped from sweep_plots.js; this file only draws.
import uPlot from "uplot";
import { chartBox as box, width } from "./charts.js";
import { formatValue } from "./format.js";

const BLUE = "#2563eb";
const RED = "#dc2626";
const GREY = "#9ca3af";

// a list's values sit at integer positions: ticks there, named by the values
function categoricalAxis(labels) {
  return {
    splits: () => labels.map((_, i) => i),
    values: (u, splits) => splits.map((s) => labels[s] ?? ""),
  };
}

/** The objective against one swept param: one marker per scored trial, the best in red. */
export function objectivePlot(container, name, objective, { axis, points }, bestJob) {
  const fig = box(container, `${objective} against ${name}`, `objective-${name}`);
  fig.dataset.points = String(points.length);
  if (!points.length) return fig;
  const xs = points.map((p) => p.x);
  const best = points.map((p) => (p.job === bestJob ? p.y : null));
  // a margin on both sides: a trial at the end of a range (often the best) is not drawn on the edge
  const pad = (lo, hi) => (axis.log ? [lo / 1.5, hi * 1.5] : [lo - 0.08 * (hi - lo || 1), hi + 0.08 * (hi - lo || 1)]);
  const scaleX = axis.numeric
    ? { time: false, distr: axis.log ? 3 : 1, range: (u, lo, hi) => pad(lo, hi) }
    : { time: false, range: [-0.5, axis.labels.length - 0.5] };
  new uPlot({
    width: width(container), height: 240,
    scales: { x: scaleX },
    legend: { show: false },
    series: [{ label: name }, { label: objective, stroke: BLUE, paths: () => null, points: { show: true, size: 7, fill: BLUE } },
      { label: "best", stroke: RED, paths: () => null, points: { show: true, size: 10, fill: RED } }],
    axes: [{ label: name, ...(axis.numeric ? {} : categoricalAxis(axis.labels)) }, { label: objective }],
  }, [xs, points.map((p) => p.y), best], fig);
  return fig;
}

/** Parallel coordinates: each scored trial a line across the axes (params, then the objective), all
 * scaled to [0, 1]; the better the objective, the darker the line; the best in red. */
export function parallelPlot(container, { axes, lines }, goal, bestJob) {
  const fig = box(container, "Parallel coordinates", "parallel");
  fig.dataset.lines = String(lines.length);
  if (!lines.length) return fig;
  const shown = lines.slice(0, 300);
  const values = shown.map((l) => l.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const quality = (v) => (hi > lo ? (goal === "max" ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo)) : 1);
  new uPlot({
    width: Math.max(width(container), 480), height: 260,
    scales: { x: { time: false, range: [-0.2, axes.length - 0.8] }, y: { range: [-0.05, 1.05] } },
    legend: { show: false },
    cursor: { show: false },
    series: [{}, ...shown.map((l) => ({
      label: `#${l.job}`, width: l.job === bestJob ? 2.5 : 1,
      stroke: l.job === bestJob ? RED : `rgba(37, 99, 235, ${0.2 + 0.8 * quality(l.value)})`,
    }))],
    axes: [categoricalAxis(axes), { values: (u, splits) => splits.map(() => "") }],
  }, [axes.map((_, i) => i), ...shown.map((l) => l.ys)], fig);
  return fig;
}

/** Two objectives: every scored trial, and the Pareto front joined in red. */
export function paretoPlot(container, rows, front, keys) {
  const fig = box(container, `Pareto front: ${keys[1]} against ${keys[0]}`, "pareto");
  fig.dataset.front = front.map((r) => r.job).join(",");
  const all = [...rows].sort((a, b) => a.values[0] - b.values[0]);
  if (!all.length) return fig;
  const xs = all.map((r) => r.values[0]);
  const onFront = new Set(front.map((r) => r.job));
  new uPlot({
    width: width(container), height: 260,
    scales: { x: { time: false } },
    legend: { show: true },
    series: [{ label: keys[0] },
      { label: "trials", stroke: GREY, paths: () => null, points: { show: true, size: 6, fill: GREY } },
      { label: "Pareto front", stroke: RED, width: 1.5, spanGaps: true, points: { show: true, size: 8, fill: RED } }],
    axes: [{ label: keys[0] }, { label: keys[1] }],
  }, [xs, all.map((r) => r.values[1]), all.map((r) => (onFront.has(r.job) ? r.values[1] : null))], fig);
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = `On the front: ${front.map((r) => `#${r.job} (${formatValue(r.values[0])}, ${formatValue(r.values[1])})`).join(" · ")}`;
  fig.append(note);
  return fig;
}
