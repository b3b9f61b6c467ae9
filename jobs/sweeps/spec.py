"""What a sweep asks for, checked before anything is stored: each mistake is a 400 naming its field
(`space.lr`, `objective.goal`, `early_stop.rule`...), and the trials' params are checked as any job's
are (jobs.services.submission) at the corners of the space, so a sweep never makes a job the API refuses."""
from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass

from ..api.nul import MESSAGE as NUL_MESSAGE, nul_path
from ..services import BadInput, submission

METHODS = ("grid", "random", "tpe")
GOALS = {"min": "minimize", "max": "maximize"}
RULES = ("median", "asha")
MAX_TRIALS = 1000
MAX_PARALLEL = 64
MAX_DIMENSIONS = 32
DEFAULT_TRIALS = 20  # random and tpe: W&B's would run until stopped; a bound the user can see instead
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
GRID_VALUE = (str, int, float, bool, type(None))  # what Optuna's storage keeps of a categorical


@dataclass
class SweepSpec:
    name: str
    kind: str
    params: dict
    space: dict  # normalised: {"name": {"values": [...]}} or {"name": {"low", "high", "log"}}
    method: str
    objective: list[dict]
    max_trials: int
    parallel: int
    early_stop: dict | None
    seed: int


def set_path(params: dict, dotted: str, value) -> dict:
    """params with `dotted` (e.g. "data.type") set to value, nested objects made where missing."""
    out = copy.deepcopy(params)
    node = out
    *parents, leaf = dotted.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[leaf] = value
    return out


def trial_params(base: dict, values: dict) -> dict:
    out = base
    for name, value in values.items():
        out = set_path(out, name, value)
    return out


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _dimension(spec, method: str) -> tuple[dict | None, str | None]:
    """(normalised dimension, None) or (None, why it is wrong)."""
    if not isinstance(spec, dict):
        return None, 'must be {"values": [...]}, {"choices": [...]} or {"low", "high", "log"?}'
    if "values" in spec or "choices" in spec:
        extra = set(spec) - {"values", "choices"}
        values = spec.get("values", spec.get("choices"))
        if extra or ("values" in spec and "choices" in spec):
            return None, f"a list of values takes no other keys (found {', '.join(sorted(extra | {'choices'}))})"
        if not isinstance(values, list) or not values:
            return None, "must be a non-empty list"
        if len(values) > MAX_TRIALS:
            return None, f"at most {MAX_TRIALS} values"
        if not all(isinstance(v, GRID_VALUE) and (not isinstance(v, float) or math.isfinite(v)) for v in values):
            return None, "values must be strings, numbers, booleans or null (a nested object: sweep its fields by dotted name)"
        if len({repr(v) for v in values}) != len(values):
            return None, "values repeat"
        return {"values": values}, None
    if "low" in spec or "high" in spec:
        extra = set(spec) - {"low", "high", "log"}
        if extra:
            return None, f"a range takes low, high and log (found {', '.join(sorted(extra))})"
        low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
        if not (_number(low) and _number(high)):
            return None, "low and high must both be finite numbers"
        if not low < high:
            return None, f"low ({low}) must be below high ({high})"
        if not isinstance(log, bool):
            return None, "log must be true or false"
        if log and low <= 0:
            return None, f"a log range needs low > 0 (got {low})"
        if method == "grid":
            return None, 'a grid needs a list of {"values": [...]}; a range is for random and tpe'
        return {"low": low, "high": high, "log": log}, None
    return None, 'must be {"values": [...]}, {"choices": [...]} or {"low", "high", "log"?}'


def _objectives(raw) -> tuple[list[dict], dict]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > 2:
        return [], {"objective": ['one {"key", "goal"}, or a list of two for a Pareto front']}
    out, errors = [], {}
    for i, item in enumerate(items):
        where = "objective" if not isinstance(raw, list) else f"objective.{i}"
        if not isinstance(item, dict):
            errors[where] = ['must be {"key": "<result key>", "goal": "min" or "max"}']
            continue
        key, goal = item.get("key"), item.get("goal", "min")
        if not isinstance(key, str) or not NAME.match(key):
            errors[f"{where}.key"] = ["a key of the trials' result, dotted for nested ones (e.g. exact_rmse, eval.fd)"]
        if goal not in GOALS:
            errors[f"{where}.goal"] = ['"min" or "max"']
        out.append({"key": key, "goal": goal})
    return out, errors


def _early_stop(raw, n_objectives: int) -> tuple[dict | None, dict]:
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        return None, {"early_stop": ['must be {"metric", "rule": "median" or "asha"}']}
    errors = {}
    extra = set(raw) - {"metric", "rule", "warmup_steps", "startup_trials", "min_resource", "reduction_factor"}
    if extra:
        errors["early_stop"] = [f"unknown keys: {', '.join(sorted(extra))}"]
    if not isinstance(raw.get("metric"), str) or not raw.get("metric"):
        errors["early_stop.metric"] = ["the name of a metric the trials report (e.g. loss)"]
    if raw.get("rule", "median") not in RULES:
        errors["early_stop.rule"] = ['"median" or "asha"']
    for k in ("warmup_steps", "startup_trials", "min_resource", "reduction_factor"):
        if k in raw and not (isinstance(raw[k], int) and not isinstance(raw[k], bool) and 0 <= raw[k] <= 10**9):
            errors[f"early_stop.{k}"] = ["a whole number >= 0"]
    if n_objectives > 1:  # Optuna prunes single-objective studies only
        errors["early_stop"] = ["early stopping needs a single objective"]
    return ({"rule": "median", **raw} if not errors else None), errors


def _whole(raw, name, lo, hi, default):
    if raw is None:
        return default, {}
    if not isinstance(raw, int) or isinstance(raw, bool) or not lo <= raw <= hi:
        return None, {name: [f"a whole number from {lo} to {hi}"]}
    return raw, {}


def _range_points(d: dict) -> list:
    """A range's ends, and for a float range a point inside it that is no whole number: a float range
    over an integer param (nfe from 2.0 to 40.0) must be refused now, not at its first trial."""
    low, high = d["low"], d["high"]
    if isinstance(low, int) and isinstance(high, int):
        return [low, high]
    inside = low * (high / low) ** 0.382 if d["log"] else low + 0.382 * (high - low)
    return [low, high, inside if inside != round(inside) else inside + 1e-3 * (high - low)]


def corners(space: dict, limit: int = 64) -> list[dict]:
    """Points of the space whose params are checked before the sweep is stored: the whole grid when
    small, else each value of each list (the others at their first) and the ends of each range."""
    names = list(space)
    lists = {n: (d["values"] if "values" in d else _range_points(d)) for n, d in space.items()}
    product = math.prod(len(v) for v in lists.values())
    if product <= limit:
        return [dict(zip(names, combo)) for combo in itertools.product(*(lists[n] for n in names))]
    first = {n: v[0] for n, v in lists.items()}
    points = [first]
    for n, vs in lists.items():
        points += [{**first, n: v} for v in vs[1:limit]]
    return points[:limit * 4]


def check(user, data) -> SweepSpec:
    """The sweep's spec, or BadInput naming every field that is wrong."""
    if not isinstance(data, dict):
        raise BadInput({"non_field_errors": ["must be a JSON object"]})
    nul = nul_path(data)
    if nul is not None:  # PostgreSQL refuses NUL in text and jsonb: a 400 here, not a 500 at the insert
        raise BadInput({nul or "non_field_errors": [NUL_MESSAGE]})
    errors: dict = {}
    method = data.get("method")
    if method not in METHODS:
        errors["method"] = ['"grid", "random" or "tpe"']
    kind = data.get("kind")
    if not isinstance(kind, str):
        errors["kind"] = ["the kind of job every trial runs (sample, train, finetune, quantize)"]
    params = data.get("params", {}) or {}
    if not isinstance(params, dict):
        errors["params"] = ["must be a JSON object"]
    name = data.get("name", "") or ""
    if not isinstance(name, str) or len(name) > 200:
        errors["name"] = ["a text of at most 200 characters"]
    raw_space = data.get("space")
    space = {}
    if not isinstance(raw_space, dict) or not raw_space:
        errors["space"] = ['a non-empty object: {"<param, dotted for nested>": {"values": [...]} or {"low", "high"}}']
    elif len(raw_space) > MAX_DIMENSIONS:
        errors["space"] = [f"at most {MAX_DIMENSIONS} params"]
    else:
        for key, spec in raw_space.items():
            if not NAME.match(key):
                errors[f"space.{key}"] = ["a param name, dotted for nested ones (e.g. data.type)"]
                continue
            dim, why = _dimension(spec, method)
            if why:
                errors[f"space.{key}"] = [why]
            else:
                space[key] = dim
        names = sorted(space)
        for a, b in zip(names, names[1:]):
            if b.startswith(a + "."):
                errors[f"space.{b}"] = [f"inside {a}, which is swept too"]
    objective, more = _objectives(data.get("objective"))
    errors.update(more)
    early_stop, more = _early_stop(data.get("early_stop"), len(objective))
    errors.update(more)
    parallel, more = _whole(data.get("parallel"), "parallel", 1, MAX_PARALLEL, 1)
    errors.update(more)
    seed, more = _whole(data.get("seed"), "seed", 0, 2**31 - 1, 0)
    errors.update(more)
    grid_size = math.prod(len(d["values"]) for d in space.values()) if method == "grid" and space else None
    if grid_size is not None and grid_size > MAX_TRIALS:
        errors["space"] = [f"a grid of {grid_size} points: at most {MAX_TRIALS}"]
    max_trials, more = _whole(data.get("max_trials"), "max_trials", 1, MAX_TRIALS,
                              grid_size if grid_size is not None else DEFAULT_TRIALS)
    errors.update(more)
    if grid_size is not None and max_trials:
        max_trials = min(max_trials, grid_size)  # a grid makes its product at most
    if errors:
        raise BadInput(errors)
    for point in corners(space):
        try:
            submission(user, kind, trial_params(params, point), name)
        except BadInput as exc:
            raise BadInput(_blame(exc.errors, point))
    return SweepSpec(name=name, kind=kind, params=params, space=space, method=method, objective=objective,
                     max_trials=max_trials, parallel=parallel, early_stop=early_stop, seed=seed)


def _blame(errors: dict, point: dict) -> dict:
    """A job's field errors as the sweep's: a field the space sets is `space.<name>` (with the value
    that failed), any other stays under `params`."""
    if "params" not in errors or not isinstance(errors["params"], dict):
        return errors
    out: dict = {k: v for k, v in errors.items() if k != "params"}
    for field, msgs in errors["params"].items():
        swept = next((n for n in point if field == n or field.startswith(n + ".")), None)
        if swept is not None:
            out[f"space.{swept}"] = [f"{point[swept]!r}: {m}" for m in msgs]
        else:
            out.setdefault("params", {})[field] = msgs
    return out
