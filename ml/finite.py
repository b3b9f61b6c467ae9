"""Non-finite values: a run that produced one stops at once and says where (the rule of Keras'
`TerminateOnNaN` and Lightning's `detect_anomaly`), and a result holding one is stored as null.

A NaN never recovers: every later step, checkpoint and metric would carry it, and a retry from
the same seed and checkpoint diverges at the same step again. So `Diverged` is a final answer.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch


class Diverged(Exception):
    """A loss, weight or output went NaN or infinite; the message is what a researcher reads."""


def _kind(value: float) -> str:
    return "nan" if math.isnan(value) else "inf"


def check_finite(value, name: str, where: str) -> float:
    """The value as a float, or Diverged("diverged: <name> is nan <where>")."""
    value = float(value.detach() if torch.is_tensor(value) else value)
    if not math.isfinite(value):
        raise Diverged(f"diverged: {name} is {_kind(value)} {where}")
    return value


def check_loss(loss, step: int, name: str = "loss") -> float:
    """The loss as a float, or Diverged("diverged: loss is nan at step 12"); steps count from 1, as
    progress does. `float()` is the one device sync the loops already paid for their metrics."""
    return check_finite(loss, name, f"at step {step}")


def check_tensors(tensors: Iterable[torch.Tensor], what: str, where: str) -> None:
    """Diverged("diverged: <what> hold nan <where>") if any floating tensor holds a non-finite value.
    Called before a file is written, so a diverged run never overwrites a good checkpoint or model."""
    floats = [t.detach() for t in tensors if t is not None and t.is_floating_point()]
    if not floats:
        return
    bad = torch.stack([(~torch.isfinite(t)).sum() for t in floats]).sum()
    if int(bad):  # one sync for all tensors, not one per tensor
        has_nan = bool(torch.stack([torch.isnan(t).any() for t in floats]).any())
        raise Diverged(f"diverged: {what} hold {'nan' if has_nan else 'inf'} {where}".rstrip())


def json_safe(obj, path: str = "") -> tuple[object, list[str]]:
    """(a copy PostgreSQL's jsonb accepts, the paths of the non-finite floats it replaced by None).

    jsonb has no NaN or infinity and no NUL character; tuples become lists, numpy and torch
    scalars plain numbers, keys strings."""
    if isinstance(obj, dict):
        out, bad = {}, []
        for k, v in obj.items():
            key = _clean_text(str(k))
            out[key], sub = json_safe(v, f"{path}.{key}" if path else key)
            bad += sub
        return out, bad
    if isinstance(obj, (list, tuple)):
        out, bad = [], []
        for i, v in enumerate(obj):
            item, sub = json_safe(v, f"{path}[{i}]")
            out.append(item)
            bad += sub
        return out, bad
    if isinstance(obj, str):
        return _clean_text(obj), []
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        obj = obj.item()  # a numpy or torch scalar
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [path]
    return obj, []


def _clean_text(text: str) -> str:
    return text.replace("\x00", "")


def safe_result(result):
    """A job's result as it can be stored: `json_safe`, and, when floats were dropped, the note
    result["non_finite"] naming them ("eval.sw_nfe1"), so a null reads as "was nan", not "missing"."""
    if result is None:
        return None
    clean, bad = json_safe(result)
    if bad and isinstance(clean, dict):
        clean["non_finite"] = bad
    return clean
