"""Sample quality of a quantized diffusion/flow model: Frechet distance of ODE samples to the data.

Samples come from the probability-flow ODE with a plain deterministic solver (DDIM, Song et al. 2021,
eq. 12, for VP schedules; Euler on the velocity for rectified flow), started from the same noise for
the fp32 and the quantized model, so the two FDs differ only by the quantization. FD (Heusel et al.
2017) here is between Gaussian fits of the raw samples and of held-out data (no Inception features:
the data are 2-D points or 8x8 digits).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from ml.quantize.tasks_noise import vp_alpha_sigma


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.reshape(len(a), -1).double().numpy(), b.reshape(len(b), -1).double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(ca @ cb)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * covmean))


@torch.no_grad()
def sample_ode(model, cfg: dict, noise: torch.Tensor, steps: int = 50) -> torch.Tensor:
    pred, schedule = cfg.get("prediction"), cfg.get("schedule", "vp_linear")
    x = noise.clone()
    n = len(x)
    if pred == "flow" or schedule == "flow":
        ts = torch.linspace(1.0, 0.0, steps + 1)
        for t, s in zip(ts[:-1], ts[1:]):
            x = x + (s - t) * model(x, torch.full((n,), float(t)))
        return x
    ts = torch.linspace(1.0, 1e-3, steps + 1)
    for t, s in zip(ts[:-1], ts[1:]):
        a_t, s_t = vp_alpha_sigma(t, schedule)
        a_s, s_s = vp_alpha_sigma(s, schedule)
        out = model(x, torch.full((n,), float(t)))
        if pred == "eps":
            x0, eps = (x - s_t * out) / a_t, out
        elif pred == "x0":
            x0, eps = out, (x - a_t * out) / s_t
        else:  # v = alpha eps - sigma x0
            x0, eps = a_t * x - s_t * out, s_t * x + a_t * out
        x = a_s * x0 + s_s * eps
    return x
