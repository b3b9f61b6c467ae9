// uPlot glue: one line chart per metric name (step on x), overlays for Compare, a scatter for
// 2-D samples. All drawing is uPlot's; this file only shapes data and options.
import uPlot from "uplot";
import { formatValue } from "./format.js";
import { overlayData, metricNames } from "./overlay.js";
import { MetricSeries } from "./metrics.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

/** A captioned <figure class="chart"> appended to `container`: the box every chart draws in (`name`
 * becomes its data-chart, for pages that find a chart by what it shows). */
export function chartBox(container, caption, name) {
  const box = document.createElement("figure");
  box.className = "chart";
  if (name) box.dataset.chart = name;
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  box.append(cap);
  container.append(box);
  return box;
}

// Two charts side by side on a wide screen, one per row on a narrow one.
export function width(el) {
  const w = el.clientWidth || 480;
  return Math.max(240, Math.floor(w >= 800 ? Math.min(600, (w - 16) / 2) : w - 4));
}

/** Live charts of one job. `add(name, step, value)` buffers; redraw happens once per frame. A metric
 * gets its chart at its second point: until then it is a single value, handed to `onSingles({name:
 * value})` for the result table (one chart per final score would bury the curves). */
export class MetricCharts {
  constructor(container, { onFirst, onSingles } = {}) {
    this.container = container;
    this.series = new Map();
    this.charts = new Map();
    this.dirty = new Set();
    this.onFirst = onFirst;
    this.onSingles = onSingles;
    this.frame = null;
  }

  add(name, step, value) {
    if (!this.series.has(name)) this.series.set(name, new MetricSeries());
    this.series.get(name).add(step, value);
    this.dirty.add(name);
    this.frame ??= requestAnimationFrame(() => this.flush());
  }

  /** {name: value} of the metrics reported once so far. */
  singles() {
    const out = {};
    for (const [name, s] of this.series) if (!this.charts.has(name) && s.size === 1) out[name] = s.ys[0];
    return out;
  }

  flush() {
    this.frame = null;
    let singlesChanged = false;
    for (const name of this.dirty) {
      const s = this.series.get(name);
      let c = this.charts.get(name);
      if (!c && s.size < 2) {
        singlesChanged = true;
        continue;
      }
      if (!c) {
        if (this.charts.size === 0) this.onFirst?.();
        const box = chartBox(this.container, name);
        box.dataset.metric = name;
        c = { box, plot: null };
        this.charts.set(name, c);
        singlesChanged = true;
      }
      c.box.dataset.points = String(s.size);
      if (!c.plot) {
        c.plot = new uPlot({
          width: width(this.container), height: 200,
          scales: { x: { time: false } },
          legend: { show: true },
          series: [{ label: "step" }, { label: name, stroke: PALETTE[0], width: 1.5 }],
          axes: [{ label: "step" }, {}],
        }, [s.xs, s.ys], c.box);
      } else {
        c.plot.setData([s.xs, s.ys]);
      }
    }
    this.dirty.clear();
    if (singlesChanged) this.onSingles?.(this.singles());
  }
}

/** One chart per metric name with one series per job (see overlay.js for the data). */
export function overlayCharts(container, runs) {
  const names = metricNames(runs);
  for (const name of names) {
    const { steps, series } = overlayData(runs, name);
    const box = chartBox(container, name);
    box.dataset.metric = name;
    box.dataset.points = String(steps.length);
    new uPlot({
      width: width(container), height: 220,
      scales: { x: { time: false } },
      series: [{ label: "step" }, ...series.map((sr, i) => ({
        label: sr.label, stroke: sr.joined ? "#6b7280" : PALETTE[i % PALETTE.length],
        width: sr.joined ? 1 : 1.5, dash: sr.joined ? [4, 4] : undefined, spanGaps: true,
        // uPlot marks points by itself where a series is sparse (a job's single point)
        ...(sr.joined ? { points: { show: false } } : {}),
      }))],
      axes: [{ label: "step" }, {}],
    }, [steps, ...series.map((sr) => sr.values)], box);
  }
  return names.length;
}

const MAX_SCATTER = 5000;

/** Scatter of 2-D points: x sorted (uPlot wants increasing x), points only, no lines. Samples
 * are i.i.d., so the first MAX_SCATTER of them are as good a picture as all of them. */
export function scatterPlot(container, xs, ys, label = "samples") {
  const n = Math.min(xs.length, MAX_SCATTER);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const sx = order.map((i) => xs[i]);
  const sy = order.map((i) => ys[i]);
  // one range on both axes and a square plot, so that the picture is not stretched
  let lo = Math.min(...sx, ...sy);
  let hi = Math.max(...sx, ...sy);
  const pad = (hi - lo) * 0.05 || 1;
  [lo, hi] = [lo - pad, hi + pad];
  const side = Math.max(240, Math.min(400, container.clientWidth || 400));
  return new uPlot({
    width: side, height: side,
    scales: { x: { time: false, range: [lo, hi] }, y: { range: [lo, hi] } },
    cursor: { show: false },
    legend: { show: false },
    series: [{}, { label, stroke: PALETTE[0], fill: PALETTE[0], paths: () => null,
      points: { show: true, size: 3, width: 0, fill: PALETTE[0] } }],
  }, [sx, sy], container);
}

/** Compare's trade-off: one marker per job at (xKey, yKey) of its results, each job named beside. */
export function tradeoffPlot(container, points, xKey, yKey) {
  container.replaceChildren();
  const box = chartBox(container, `${yKey} against ${xKey}`);
  box.dataset.points = String(points.length);
  if (points.length) {
    new uPlot({
      width: width(container), height: 260,
      scales: { x: { time: false } },
      legend: { show: true },
      series: [{ label: xKey }, { label: yKey, stroke: PALETTE[0], paths: () => null,
        points: { show: true, size: 7, fill: PALETTE[0] } }],
      axes: [{ label: xKey }, { label: yKey }],
    }, [points.map((p) => p.x), points.map((p) => p.y)], box);
  }
  const list = document.createElement("p");
  list.className = "note";
  list.textContent = points.length
    ? points.map((p) => `#${p.id} (${formatValue(p.x)}, ${formatValue(p.y)})`).join(" · ")
    : "No job has both values.";
  box.append(list);
}
