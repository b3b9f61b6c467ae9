"""2-D toy distributions, generated on the fly from an explicit `torch.Generator`.

Every sampler has the shape `sample_x(n, generator, device) -> [n, 2] float32 tensor`, so a
training job needs no download and a fresh draw (for evaluation floors) is one call away.
The Gaussian mixture is the analytic model of docs/kinds/sample.md (`{"type": "gmm", "means", "stds",
"weights"}`), the ground truth the `sample` kind uses for solver accuracy.
"""
from __future__ import annotations

import math

import torch

# the preset of the samplers research note (section 3): 6 isotropic components on/inside a
# radius-2 ring, unequal stds and weights, so mode coverage and widths are both visible
GMM_PRESET = {
    "means": [[2.0, 0.0], [1.0, 1.732], [-1.0, 1.732], [-2.0, 0.0], [-1.0, -1.732], [0.5, -0.8]],
    "stds": [0.05, 0.1, 0.2, 0.3, 0.15, 0.1],
    "weights": [0.25, 0.15, 0.1, 0.2, 0.15, 0.15],
}


def sample_gmm(n, generator, device="cpu", means=None, stds=None, weights=None):
    """Isotropic Gaussian mixture: pick a component by weight, add std * N(0, I)."""
    means = torch.tensor(means if means is not None else GMM_PRESET["means"], dtype=torch.float32, device=device)
    stds = torch.tensor(stds if stds is not None else GMM_PRESET["stds"], dtype=torch.float32, device=device)
    w = torch.tensor(weights if weights is not None else GMM_PRESET["weights"], dtype=torch.float32, device=device)
    k = torch.multinomial(w / w.sum(), n, replacement=True, generator=generator)
    eps = torch.randn(n, means.shape[1], generator=generator, device=device)
    return means[k] + stds[k, None] * eps


def sample_moons(n, generator, device="cpu", noise=0.05):
    """Two interleaved half circles (as scikit-learn's make_moons), centred and scaled to ~[-2, 2]."""
    u = torch.rand(n, generator=generator, device=device) * math.pi
    upper = torch.rand(n, generator=generator, device=device) < 0.5
    x = torch.where(upper, torch.cos(u), 1 - torch.cos(u))
    y = torch.where(upper, torch.sin(u), 0.5 - torch.sin(u))
    pts = torch.stack([x - 0.5, y - 0.25], 1) * 1.6
    return pts + noise * torch.randn(n, 2, generator=generator, device=device)


def sample_checkerboard(n, generator, device="cpu"):
    """Uniform on the 8 dark squares of a 4x4 board over [-2, 2]^2 (sharp edges: a hard case for flows)."""
    x1 = torch.rand(n, generator=generator, device=device) * 4 - 2
    x2_ = torch.rand(n, generator=generator, device=device) - torch.randint(0, 2, (n,), generator=generator, device=device) * 2.0
    x2 = x2_ + (torch.floor(x1) % 2)
    return torch.stack([x1, x2], 1)


def sample_spirals(n, generator, device="cpu", noise=0.05):
    """Two interleaved Archimedean spirals, radius up to ~2."""
    t = torch.sqrt(torch.rand(n, generator=generator, device=device)) * 3 * math.pi
    arm = torch.randint(0, 2, (n,), generator=generator, device=device).float() * math.pi
    r = t / (1.5 * math.pi)
    pts = torch.stack([r * torch.cos(t + arm), r * torch.sin(t + arm)], 1)
    return pts + noise * torch.randn(n, 2, generator=generator, device=device)


TOYS = {"gmm": sample_gmm, "moons": sample_moons, "checkerboard": sample_checkerboard, "spirals": sample_spirals}
