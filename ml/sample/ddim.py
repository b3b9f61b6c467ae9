"""DDIM, deterministic (eta = 0)."""
from __future__ import annotations

from ml.sample.model import lincomb


def ddim(model, x, ts, callback=None):
    """DDIM (Song, Meng & Ermon, ICLR 2021), eq. 12 with sigma_t = 0:

        x_{t'} = alpha_{t'} x0_hat + sigma_{t'} eps_hat,   x0_hat = (x_t - sigma_t eps_hat) / alpha_t

    i.e. Euler in (y = x / alpha, rho = sigma / alpha) (their eq. 14), and DPM-Solver-1. Computed as
    x_{t'} = (alpha'/alpha) x + (sigma' - alpha' sigma / alpha) eps (2 kernels); where alpha_t = 0 (flow
    models at t = 1) from x0_hat and eps_hat instead. No clipping of x0_hat: diffusers' `DDIMScheduler`
    clamps it to [-1, 1] by default (`clip_sample=True`), a silent bias on any data outside that box.
    One NFE per step; the step into sigma = 0 returns x0_hat.
    """
    s = model.schedule
    al = [s.alpha(t) for t in ts]
    sg = [s.sigma(t) for t in ts]
    for i in range(len(ts) - 1):
        if al[i] > 0.0:
            eps = model.eps(x, ts[i])
            x = lincomb(al[i + 1] / al[i], x, sg[i + 1] - al[i + 1] * sg[i] / al[i], eps)
        else:
            eps, x0 = model.eps_x0(x, ts[i])
            x = lincomb(al[i + 1], x0, sg[i + 1], eps)
        if callback is not None:
            callback(i, x)
    return x
