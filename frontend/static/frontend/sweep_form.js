// The New job form's "Launch as a sweep": any param turned into a list of values or a range, sent
// as POST /api/sweeps/ (docs/sweeps.md). Pure functions: node-tested.

/** "5, 10, 20" -> [5, 10, 20]; "ddim, pndm" -> ["ddim", "pndm"]; JSON words (true, null, 1e-3) as JSON. */
export function parseValues(text) {
  return String(text ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    try {
      const v = JSON.parse(s);
      return typeof v === "object" && v !== null ? s : v;
    } catch {
      return s;
    }
  });
}

function number(s) {
  const t = String(s ?? "").trim();
  return t === "" ? NaN : Number(t);
}

/** The sweep's `space` from the builder's rows [{param, mode: "values" | "range", values, low, high, log}];
 * errors name the row's param as the API does (`space.<param>`), so both read alike. */
export function buildSpace(rows) {
  const space = {};
  const errors = {};
  for (const r of rows) {
    const name = String(r.param ?? "").trim();
    if (!name) continue;
    if (r.mode === "range") {
      const low = number(r.low);
      const high = number(r.high);
      if (!Number.isFinite(low) || !Number.isFinite(high)) errors[`space.${name}`] = ["low and high must be numbers"];
      else space[name] = { low, high, ...(r.log ? { log: true } : {}) };
    } else {
      const values = parseValues(r.values);
      if (!values.length) errors[`space.${name}`] = ["give one or more values, separated by commas"];
      else space[name] = { values };
    }
  }
  if (!Object.keys(space).length && !Object.keys(errors).length) errors.space = ["add a param to sweep"];
  return { space, errors };
}

/** Every leaf's dotted path in params ({"model": {"type": "gmm"}, "nfe": 10} -> ["model.type", "nfe"]):
 * the names the builder offers. */
export function leafPaths(obj, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(obj ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...leafPaths(v, path));
    else out.push(path);
  }
  return out.sort();
}

/** The whole POST body, from the job form's params and the sweep fields. */
export function sweepBody({ kind, name, params, project, rows, method, objectiveKey, goal, maxTrials, parallel,
                            earlyMetric, earlyRule }) {
  const { space, errors } = buildSpace(rows);
  const body = { kind, params, space, method, objective: { key: String(objectiveKey ?? "").trim(), goal } };
  if (!body.objective.key) errors["objective.key"] = ["the result key to optimise, e.g. exact_rmse or final_loss"];
  if (name) body.name = name;
  if (project != null) body.project = project;
  if (String(maxTrials ?? "").trim() !== "") body.max_trials = number(maxTrials);
  if (String(parallel ?? "").trim() !== "") body.parallel = number(parallel);
  if (String(earlyMetric ?? "").trim()) body.early_stop = { metric: earlyMetric.trim(), rule: earlyRule || "median" };
  return { body, errors };
}
