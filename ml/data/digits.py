"""scikit-learn's bundled 8x8 digits (1797 images, no download), scaled to [-1, 1].

Split in two halves by a fixed seed, stratified by class: half 0 trains generators, half 1
is held out for evaluation only (the Frechet-distance classifier learns from it), so a
generator is never scored by features fitted on its own training images.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

SPLIT_SEED = 1234  # fixed forever: changing it would silently mix training and evaluation images


@lru_cache(maxsize=1)
def _load():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32) / 16.0 * 2.0 - 1.0  # pixel values 0..16 -> [-1, 1]
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    half = np.zeros(len(y), dtype=np.int64)
    for c in range(10):  # stratified: each half holds about half of every class
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        half[idx[len(idx) // 2:]] = 1
    return x, y, half


def digits_half(half: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 1, 8, 8] in [-1, 1] and labels [n] of one half (0: train, 1: held out)."""
    x, y, h = _load()
    keep = h == half
    return torch.from_numpy(x[keep]).unsqueeze(1).to(device), torch.from_numpy(y[keep]).to(device)
