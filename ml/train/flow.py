"""Rectified flow (Liu, Gong & Liu, ICLR 2023, "Flow Straight and Fast", eq. 1 and Algorithm 1),
its reflow and k-step distillation, and the rfpp training fixes (Lee, Lin & Fanti, NeurIPS 2024,
"Improving the Training of Rectified Flows").

Convention (diffusers'): x_t = (1 - t) x0 + t z, t = 1 is noise, v = z - x0, dx/dt = v, so sampling
integrates from t = 1 down to 0. One objective covers the three trainings; they differ in the coupling
(x0, z) and the times t:
- 1-RF: x0 from the data, z ~ N(0, I) independent; t ~ p(t).
- reflow (2-RF): (z, x0) = (noise, teacher ODE output from that noise); t ~ p(t).
- k-step distillation (Liu et al. sec. 2.3): reflow pairs, but t only on the k-step Euler grid
  {1, (k-1)/k, ..., 1/k}, so the student is exact where its sampler evaluates it.
"""
from __future__ import annotations

import math

import torch

U_SHAPED_A = 4.0  # rfpp sec. 4.1: p(t) ~ exp(a t) + exp(-a t) around the ends, a = 4


def sample_flow_t(n, generator, device, dist="uniform"):
    u = torch.rand(n, generator=generator, device=device)
    if dist == "uniform":
        return u
    if dist == "u_shaped":
        # inverse CDF of p(t) = a e^{a t} / (e^a - 1) on [0, 1], mirrored with probability 1/2: the sum
        # of the two halves is the rfpp U shape (most mass near t = 0 and t = 1, where reflow errs most)
        a = U_SHAPED_A
        t = torch.log1p(u * math.expm1(a)) / a
        flip = torch.rand(n, generator=generator, device=device) < 0.5
        return torch.where(flip, 1 - t, t)
    raise ValueError(dist)


def distill_t(n, generator, device, k):
    """Times of the k-step Euler sampler from t = 1: {1, (k-1)/k, ..., 1/k}."""
    i = torch.randint(0, k, (n,), generator=generator, device=device)
    return (k - i).float() / k


def _bcast(v, x):
    return v.reshape(-1, *([1] * (x.dim() - 1)))


def flow_loss(net, x0, z, t, distance):
    """Per-sample distance(v_theta(x_t, t), z - x0) on the straight interpolation."""
    tb = _bcast(t, x0)
    xt = (1 - tb) * x0 + tb * z
    return distance(net(xt, t), z - x0)


def l2(pred, target):
    return (pred - target).flatten(1).pow(2).mean(1)


def pseudo_huber(pred, target):
    """sqrt(||d||^2 + c^2) - c with c = 0.00054 sqrt(dim) (Song & Dhariwal 2023, iCT sec. 3.3), the rfpp
    choice for non-image data (rfpp uses LPIPS-Huber on images; no LPIPS net here, so plain Huber).
    Divided by sqrt(dim) so its scale is comparable to the per-coordinate l2."""
    d = pred.shape[1:].numel()
    c = 0.00054 * math.sqrt(d)
    r2 = (pred - target).flatten(1).pow(2).sum(1)
    # sqrt(r2 + c^2) - c written as r2 / (sqrt(r2 + c^2) + c): no cancellation when r << c
    return r2 / (torch.sqrt(r2 + c * c) + c) / math.sqrt(d)


DISTANCES = {"l2": l2, "pseudo_huber": pseudo_huber}
