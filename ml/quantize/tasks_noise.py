"""VP noise schedules in continuous time t in [0, 1] (the project's network convention, HELPERS.md)."""
from __future__ import annotations

import math

import torch


def vp_alpha_sigma(t, schedule="vp_linear"):
    """(alpha_t, sigma_t) with alpha^2 + sigma^2 = 1.

    vp_linear: beta(t) = 0.1 + 19.9 t, so log alpha_t^2 = -(0.1 t + 9.95 t^2) (DDPM's 1e-4..0.02 over 1000 steps);
    vp_cosine: Nichol & Dhariwal 2021, alpha_t^2 = f(t) / f(0), f(t) = cos^2(pi/2 (t + s)/(1 + s)), s = 0.008.
    """
    t = torch.as_tensor(t, dtype=torch.float32)
    if schedule == "vp_cosine":
        s = 0.008
        f = lambda u: torch.cos(math.pi / 2 * (u + s) / (1 + s))  # noqa: E731
        alpha = (f(t) / f(torch.zeros_like(t))).clamp(min=1e-4)
    else:
        alpha = torch.exp(-0.5 * (0.1 * t + 9.95 * t ** 2))
    return alpha, (1 - alpha ** 2).clamp(min=0).sqrt()
