"""The held-out split of a user's data: a fixed function of (rows, fraction, seed), so the two jobs of a
pipeline (a generator and its evaluation, two oracles on two halves) agree on which rows are which."""
from __future__ import annotations

import numpy as np


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows), sorted indices into 0..n-1; at least one row on each side."""
    if n < 2:
        raise ValueError(f"{n} row(s): a held-out split needs at least 2")
    k = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of n rows (the two oracles' data, as the paper's chromosome split)."""
    return holdout_split(n, 0.5, seed)
