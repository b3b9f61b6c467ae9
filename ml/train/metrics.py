"""Sample-quality metrics that do not reuse the generator's own training signal (non-circular).

- Sliced Wasserstein-2 (Rabin et al. 2011; Bonneel et al. 2015): mean over random directions of the
  1-D W2^2 between sorted projections, then sqrt. Compared against its data-vs-data floor at equal n.
- Frechet distance (Heusel et al. 2017, eq. 6) in the penultimate features of a small classifier trained
  ONLY on the held-out digits half; floor = training half vs held-out half.
- Straightness (Liu et al. 2023, eq. 4): S = int_0^1 E ||(Z_1 - Z_0) - v(Z_t, t)||^2 dt along the ODE path.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ml.metrics import frechet_distance, sliced_w2  # noqa: F401  (frechet_distance re-exported)


def sliced_wasserstein(x, y, generator, n_proj=256):
    return sliced_w2(x.flatten(1).float(), y.flatten(1).float(), n_proj=n_proj, generator=generator)


def _classifier():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.SiLU(), nn.Linear(128, 64), nn.SiLU(), nn.Linear(64, 10))


@lru_cache(maxsize=1)
def digits_classifier():
    """64-128-64-10 MLP fitted on the held-out half only (full batch AdamW, fixed seed, CPU, ~1 s)."""
    from ml.data.digits import digits_half

    x, y = digits_half(1)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # leave the caller's global RNG untouched
        torch.manual_seed(0)
        return _fit(_classifier(), x, y)


def _fit(clf, x, y):
    opt = torch.optim.AdamW(clf.parameters(), lr=3e-3, weight_decay=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        # light pixel noise: the generators' samples are not exactly on the data grid
        xn = x + 0.05 * torch.randn(x.shape, generator=g)
        loss = nn.functional.cross_entropy(clf(xn), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return clf.eval()


@torch.no_grad()
def digits_features(x):
    clf = digits_classifier()
    x = x.detach().float().cpu().reshape(-1, 1, 8, 8)
    h = clf[:5](x)
    probs = torch.softmax(clf[5](h), 1)
    return h.double().numpy(), probs


def digits_report(samples):
    """FD to the held-out half, its real-vs-real floor, mean confidence and class histogram."""
    from ml.data.digits import digits_half

    f_gen, probs = digits_features(samples)
    f_held, _ = digits_features(digits_half(1)[0])
    return {
        "fd": frechet_distance(f_gen, f_held),
        "confidence": float(probs.max(1).values.mean()),
        "class_hist": torch.bincount(probs.argmax(1), minlength=10).tolist(),
    }


@lru_cache(maxsize=1)
def digits_fd_floor():
    from ml.data.digits import digits_half

    return frechet_distance(digits_features(digits_half(0)[0])[0], digits_features(digits_half(1)[0])[0])


@torch.no_grad()
def straightness(net, z, n_steps=50):
    """Liu et al. eq. 4, Euler path with n_steps; per coordinate, so 2-D and 64-D read alike."""
    from ml.train.ode import flow_euler

    x_end, path = flow_euler(net, z, n_steps, return_path=True)
    direction = z - x_end  # v = z - x0 in our convention
    return float(sum((direction - v).flatten(1).pow(2).mean(1).mean() for _, _, v in path) / len(path))


def rms_error(x, ref):
    """Per-sample error against a reference solve from the same noise, RMS per coordinate."""
    return float((x - ref).flatten(1).pow(2).mean(1).mean().sqrt())
