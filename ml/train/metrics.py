"""Sample-quality metrics that do not reuse the generator's own training signal (non-circular).

- Sliced Wasserstein-2 (Rabin et al. 2011; Bonneel et al. 2015): mean over random directions of the
  1-D W2^2 between sorted projections, then sqrt. Compared against its data-vs-data floor at equal n.
- Frechet distance (Heusel et al. 2017, eq. 6) in the penultimate features of a small classifier trained
  ONLY on the held-out digits half; floor = training half vs held-out half.
- Own data (a file): FD to its held-out rows in fixed, data-independent features (`file_features`): the raw
  coordinates of vectors (a fixed random projection to 256 of them beyond that), and images average-pooled to
  at most 8x8 per channel; floor = training rows vs held-out rows at equal n.
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
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


@lru_cache(maxsize=1)
def digits_classifier():
    """The samplers note's evaluator (sec. 4): a 64-128-64-10 MLP fitted on the held-out half only; Adam 1e-3,
    batch 64, 80 epochs, fixed seed, CPU, ~1 s. It reproduces the note's protocol figures (accuracy 0.970 on
    the generators' half vs 0.974, real confidence 0.980 vs 0.985, floor 0.82 vs 0.84), so our FD reads on
    the prototype's scale. (Features grow with training: 200 epochs give a floor of 1.18, so FD is only
    comparable at a fixed recipe, never across evaluators.)"""
    from ml.data.digits import digits_half

    x, y = digits_half(1)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():  # leave the caller's global RNG untouched
        torch.manual_seed(0)
        return _fit(_classifier(), x, y)


def _fit(clf, x, y, epochs=80, batch=64):
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for idx in perm.split(batch):
            loss = nn.functional.cross_entropy(clf(x[idx]), y[idx])
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


@lru_cache(maxsize=1)
def _held_out_features():
    """Features of the held-out half: the reference of every digits FD, computed once (shared: never
    modified by the callers)."""
    from ml.data.digits import digits_half

    return digits_features(digits_half(1)[0])[0]


def digits_report(samples):
    """FD to the held-out half, mean confidence and class histogram of the raw ODE output (as the samplers note
    measured), and beside it the FD of the samples clipped to the data range [-1, 1], as an image is shown. On
    our models clipping costs FD (e.g. 3.9 raw vs 5.5 clipped at 10 NFE): the background pixels sit at -1,
    and clipping removes only the noise below it, which biases the features' mean."""
    f_held = _held_out_features()
    f_gen, probs = digits_features(samples)
    return {
        "fd": frechet_distance(f_gen, f_held),
        "fd_clipped": frechet_distance(digits_features(samples.clamp(-1, 1))[0], f_held),
        "confidence": float(probs.max(1).values.mean()),
        "class_hist": torch.bincount(probs.argmax(1), minlength=10).tolist(),
    }


@lru_cache(maxsize=1)
def digits_fd_floor():
    from ml.data.digits import digits_half

    return frechet_distance(digits_features(digits_half(0)[0])[0], _held_out_features())


FD_DIMS = 256      # beyond this many coordinates a vector's FD runs on a fixed projection (covariances stay small)
FD_POOL = 8        # images are compared at most 8x8 per channel: coarse structure, not pixel noise
PROJECTION_SEED = 0


@torch.no_grad()
def file_features(x: torch.Tensor) -> torch.Tensor:
    """A generic, fixed feature of own data (no network to train, nothing that depends on the model): vectors
    as they are (or projected by a fixed Gaussian matrix / sqrt(d) when wider than FD_DIMS), images pooled."""
    x = x.detach().float().cpu()
    if x.dim() == 4:
        h, w = x.shape[2:]
        x = torch.nn.functional.adaptive_avg_pool2d(x, (min(h, FD_POOL), min(w, FD_POOL)))
    x = x.flatten(1)
    if x.shape[1] > FD_DIMS:
        g = torch.Generator().manual_seed(PROJECTION_SEED)
        x = x @ (torch.randn(x.shape[1], FD_DIMS, generator=g) / x.shape[1] ** 0.5)
    return x


def file_fd(samples, held_out) -> float:
    return frechet_distance(file_features(samples), file_features(held_out))


@torch.no_grad()
def straightness(net, z, n_steps=50):
    """Liu et al. eq. 4, Euler path with n_steps; per coordinate, so 2-D and 64-D read alike."""
    from ml.train.ode import flow_path

    x_end, velocities = flow_path(net, z, n_steps)
    direction = z - x_end  # v = z - x0 in our convention
    return float(sum((direction - v).flatten(1).pow(2).mean(1).mean() for v in velocities) / len(velocities))


def rms_error(x, ref):
    """Per-sample error against a reference solve from the same noise, RMS per coordinate."""
    return float((x - ref).flatten(1).pow(2).mean(1).mean().sqrt())
