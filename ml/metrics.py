"""Distances between sample sets, shared by every job kind's evaluation."""
from __future__ import annotations

import math

import numpy as np
import torch


def frechet_distance(a, b) -> float:
    """Frechet distance between Gaussian fits of two sample sets (Heusel et al. 2017, eq. 6):
    |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)). Rows are samples; features are flattened."""
    from scipy import linalg

    a = np.asarray(torch.as_tensor(a).detach().cpu().double()).reshape(len(a), -1)
    b = np.asarray(torch.as_tensor(b).detach().cpu().double()).reshape(len(b), -1)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = np.real(linalg.sqrtm(ca @ cb))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * covmean))


def sliced_w2(a, b, n_proj: int = 256, seed: int = 0, generator: torch.Generator | None = None) -> float:
    """Sliced Wasserstein-2 distance between two point clouds (the first min(len) of each), averaged
    over `n_proj` random unit directions (Rabin et al. 2011)."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    a = torch.as_tensor(a).detach().double()
    b = torch.as_tensor(b).detach().double().to(a.device)
    n = min(len(a), len(b))
    a, b = a[:n].reshape(n, -1), b[:n].reshape(n, -1)
    proj = torch.randn(a.shape[1], n_proj, generator=g, dtype=torch.float64, device=g.device).to(a.device)
    proj = proj / proj.norm(dim=0, keepdim=True)
    pa, _ = (a @ proj).sort(dim=0)
    pb, _ = (b @ proj).sort(dim=0)
    return math.sqrt(float((pa - pb).pow(2).mean()))
