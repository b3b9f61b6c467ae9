"""Side-by-side tables for the Compare page: params diffed, results lined up."""
from __future__ import annotations

import math

from jobs.api.query import ascii_int

MIN_JOBS, MAX_JOBS = 2, 16  # 16: an alpha x K sweep of 12 fine-tunes fits


def parse_ids(values):
    """`?ids=1&ids=2` or `?ids=1,2` -> ([1, 2], problem or None), in the order given, no repeats."""
    ids = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            value = ascii_int(part)
            if value is None:
                return [], f"Not a job id: {part!r}."
            if value not in ids:
                ids.append(value)
    if ids and not MIN_JOBS <= len(ids) <= MAX_JOBS:
        return ids, f"Choose {MIN_JOBS} to {MAX_JOBS} jobs (got {len(ids)})."
    return ids, None


def flatten(obj, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay whole (they are compared as values)."""
    out = {}
    for key, value in (obj or {}).items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _rows(dicts):
    flat = [flatten(d if isinstance(d, dict) else {"value": d}) for d in dicts]
    keys = []
    for f in flat:
        keys.extend(k for k in f if k not in keys)
    rows = []
    for key in keys:
        values = [f.get(key) for f in flat]
        differs = any(v != values[0] for v in values[1:])
        rows.append({"key": key, "values": values, "differs": differs})
    return rows


def numeric_results(jobs):
    """{job id: {flattened result key: number}} for the trade-off scatter (booleans are not numbers)."""
    return {j.id: {k: v for k, v in flatten(j.result or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)} for j in jobs}


def compare_rows(jobs):
    """(params rows, result rows); each row {"key", "values" (one per job), "differs"}.
    Params rows that differ come first: they are what the user is comparing."""
    params = _rows([j.params for j in jobs])
    params.sort(key=lambda r: not r["differs"])
    return params, _rows([j.result or {} for j in jobs])
