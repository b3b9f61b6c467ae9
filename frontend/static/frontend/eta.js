// Time-left estimate for a progress bar. Progress arrives as (done/total) events; the rate is
// measured over a recent window so that a slow start (model loading, compilation) or a resumed
// attempt does not skew the estimate for the rest of the run.

/** Seconds left, or null while there is not enough to go on.
 * `samples`: [{t: seconds, p: fraction 0..1}] in time order; `windowSeconds`: how far back the
 * rate is measured (the earliest sample inside the window, or the last one before it). */
export function estimateEta(samples, windowSeconds = 60) {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  if (last.p >= 1) return 0;
  let first = samples[0];
  for (const s of samples) {
    if (last.t - s.t <= windowSeconds) break;
    first = s;
  }
  const dt = last.t - first.t;
  const dp = last.p - first.p;
  if (dt <= 0 || dp <= 0) return null;
  return ((1 - last.p) * dt) / dp;
}

/** Keeps the samples of one job, restarting when progress goes backwards (a new attempt). */
export class EtaTracker {
  constructor(windowSeconds = 60) {
    this.windowSeconds = windowSeconds;
    this.samples = [];
  }

  add(t, p) {
    const prev = this.samples[this.samples.length - 1];
    if (prev && p < prev.p) this.samples = [];
    this.samples.push({ t, p });
    // Only the window and one sample before it matter.
    while (this.samples.length > 2 && last(this.samples).t - this.samples[1].t > this.windowSeconds) {
      this.samples.shift();
    }
  }

  eta() {
    return estimateEta(this.samples, this.windowSeconds);
  }
}

function last(a) {
  return a[a.length - 1];
}
