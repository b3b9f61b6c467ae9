"""A `sample` job's finished chunks, kept in its checkpoint so a retry, or a rerun after a cancel, starts
at the first unfinished chunk.

The checkpoint is `ml/checkpoint.py`'s, one part per chunk (`carry`): step k holds chunks 0..k-1.
Its meta carries a hash of the params (ml/params.py), so a checkpoint left by other params is never reused.
"""
from __future__ import annotations

import hashlib
import json

from ml import checkpoint
from ml.params import params_hash


def _keys(p) -> tuple[str, str]:
    """The params' hash, and the key chunk checkpoints written before the hash was shared carry (JSON with
    spaces): a job resumed across that upgrade keeps its chunks."""
    dumped = p.model_dump(mode="json")
    return params_hash(dumped), hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()


def finished(folder, p) -> list[dict]:
    """The tensors of each finished chunk of params `p`, in order; [] when the checkpoint is of other params,
    or none."""
    ckpt = checkpoint.load(folder)
    if ckpt is None or ckpt.meta.get("key") not in _keys(p):
        return []
    return [{name.split("/", 1)[1]: t for name, t in ckpt.tensors.items() if name.startswith(f"{k}/")}
            for k in range(ckpt.step)]


def keep(folder, k: int, tensors: dict, p) -> None:
    """Chunk k of params `p` is done: with chunks 0..k-1 (already kept) it makes step k + 1. Chunk 0 starts
    afresh, so the parts of a checkpoint of other params go."""
    checkpoint.save(folder, k + 1, {f"{k}/{name}": t for name, t in tensors.items()},
                    {"key": _keys(p)[0], "chunks": k + 1}, carry=k > 0)
