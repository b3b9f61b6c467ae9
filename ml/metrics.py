"""Distances between sample sets, shared by every job kind's evaluation."""
from __future__ import annotations

import math

import numpy as np
import torch


def frechet_distance(a, b) -> float:
    """Frechet distance between Gaussian fits of two sample sets (Heusel et al. 2017, eq. 6):
    |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)). Rows are samples; features are flattened.

    tr((C_a C_b)^(1/2)) is the sum of the square roots of the eigenvalues of C_a C_b, which are those of
    the symmetric S C_b S with S = C_a^(1/2): two symmetric eigendecompositions instead of a general
    matrix square root, exact and quiet when the covariances are singular (dead ReLU features, fewer
    samples than features), where scipy's sqrtm warns and can return complex noise."""
    a = np.asarray(torch.as_tensor(a).detach().cpu().double()).reshape(len(a), -1)
    b = np.asarray(torch.as_tensor(b).detach().cpu().double()).reshape(len(b), -1)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(ca)
    s = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(s @ cb @ s), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_covmean)


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
