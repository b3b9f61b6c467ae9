"""A `sample` job's finished chunks, kept in its checkpoint so a retry, or a rerun after a cancel, starts
at the first unfinished chunk.

The checkpoint is `ml/checkpoint.py`'s, one part per chunk (`carry`): step k holds chunks 0..k-1.
Its meta carries a key of the params, so a checkpoint left by other params is never reused.
"""
from __future__ import annotations

import hashlib
import json

from ml import checkpoint


def params_key(p) -> str:
    return hashlib.sha256(json.dumps(p.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def finished(folder, key: str) -> list[dict]:
    """The tensors of each finished chunk, in order; [] when the checkpoint is of other params, or none."""
    ckpt = checkpoint.load(folder)
    if ckpt is None or ckpt.meta.get("key") != key:
        return []
    return [{name.split("/", 1)[1]: t for name, t in ckpt.tensors.items() if name.startswith(f"{k}/")}
            for k in range(ckpt.step)]


def keep(folder, k: int, tensors: dict, key: str) -> None:
    """Chunk k is done: with chunks 0..k-1 (already kept) it makes step k + 1. Chunk 0 starts afresh, so the
    parts of a checkpoint of other params go."""
    checkpoint.save(folder, k + 1, {f"{k}/{name}": t for name, t in tensors.items()}, {"key": key, "chunks": k + 1},
                    carry=k > 0)
