"""VP diffusion training (DDPM, Ho et al. 2020; continuous time, Song et al. 2021 "Score-Based
Generative Modeling through SDEs", eq. 33) with eps, x0 or v prediction.

Schedule "vp_linear" (`ml.sample.schedules.VPLinear`, the one the solvers sample with): beta(t) = 0.1 + 19.9 t
on t in [0, 1] (DDPM's 1e-4..0.02 over 1000 steps), so log alpha_t = -(0.1 t + 9.95 t^2) / 2,
sigma_t = sqrt(1 - alpha_t^2), x_t = alpha_t x0 + sigma_t eps.
Targets: eps; x0; v = alpha_t eps - sigma_t x0 (Salimans & Ho 2022, "Progressive Distillation", sec. 4).
"""
from __future__ import annotations

import torch

from ml.sample.schedules import VPLinear

T_EPS = 1e-3  # smallest training time: sigma_t ~ 0.01 there, below it eps is unidentifiable
SCHEDULE = VPLinear()


def _bcast(v, x):
    return v.reshape(-1, *([1] * (x.dim() - 1)))


def vp_target(x0, eps, t, prediction):
    alpha, sigma = (_bcast(v, x0) for v in SCHEDULE.alpha_sigma(t))
    return target_of(prediction, x0, eps, alpha, sigma)


def target_of(prediction, x0, eps, alpha, sigma):
    """The regression target of x_t = alpha x0 + sigma eps (alpha, sigma broadcast to x0's shape)."""
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    if prediction == "v":
        return alpha * eps - sigma * x0
    raise ValueError(prediction)


def vp_to_x0(out, x, t, prediction):
    """Data prediction from the network output (what DPM-Solver++ integrates)."""
    alpha, sigma = (_bcast(v, x) for v in SCHEDULE.alpha_sigma(t))
    if prediction == "eps":
        return (x - sigma * out) / alpha
    if prediction == "x0":
        return out
    if prediction == "v":
        return alpha * x - sigma * out
    raise ValueError(prediction)


def vp_loss(net, x0, eps, t, prediction, distance):
    """Per-sample loss of one batch: distance(net(x_t, t), target)."""
    alpha, sigma = (_bcast(v, x0) for v in SCHEDULE.alpha_sigma(t))
    xt = alpha * x0 + sigma * eps
    return distance(net(xt, t), vp_target(x0, eps, t, prediction))


def sample_vp_t(n, generator, device):
    return T_EPS + (1 - T_EPS) * torch.rand(n, generator=generator, device=device)
