"""Error measures of samples against the exact ODE and the exact data (tests and benchmark share them)."""
from __future__ import annotations

import math

import numpy as np
import torch


def rmse(a, b) -> float:
    """Root mean over samples of the squared Euclidean error, sqrt(mean_i |a_i - b_i|^2)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).reshape(len(a), -1).pow(2).sum(-1).mean().sqrt())


def convergence_order(errors: dict) -> float:
    """Least-squares slope of -log(error) against log(NFE): the measured order of convergence."""
    n = np.log(np.array(list(errors.keys()), dtype=float))
    e = np.log(np.array(list(errors.values()), dtype=float))
    return float(-np.polyfit(n, e, 1)[0])


def sliced_w2(a, b, n_proj: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-2 distance between two equal-size point clouds (random unit projections)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.as_tensor(a, dtype=torch.float64).cpu()
    b = torch.as_tensor(b, dtype=torch.float64).cpu()
    n = min(len(a), len(b))
    a, b = a[:n].reshape(n, -1), b[:n].reshape(n, -1)
    proj = torch.randn(a.shape[1], n_proj, generator=g, dtype=torch.float64)
    proj = proj / proj.norm(dim=0, keepdim=True)
    pa, _ = (a @ proj).sort(dim=0)
    pb, _ = (b @ proj).sort(dim=0)
    return math.sqrt(float((pa - pb).pow(2).mean()))
