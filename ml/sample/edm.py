"""Euler and Heun in (y = x / alpha, rho = sigma / alpha), as in EDM (Karras et al. 2022)."""
from __future__ import annotations

from ml.sample.model import lincomb


def _coefs(s, ts):
    """x_{i+1} = a_i x_i + b_i eps  <=>  y_{i+1} = y_i + (rho_{i+1} - rho_i) eps, with y = x / alpha."""
    al = [s.alpha(t) for t in ts]
    rho = [s.rho(t) for t in ts]
    return [(al[i + 1] / al[i], al[i + 1] * (rho[i + 1] - rho[i])) for i in range(len(ts) - 1)]


def euler(model, x, ts, callback=None):
    """Euler on the probability-flow ODE dy/drho = eps (Karras et al. 2022, eq. 4; Algorithm 1 without the
    correction; k-diffusion's `sample_euler`): y' = y + (rho' - rho) eps(x, t). The same update as DDIM;
    it differs from `ddim` only in its default grid (Karras rho = 7). 1 NFE per step.
    """
    for i, (a, b) in enumerate(_coefs(model.schedule, ts)):
        x = lincomb(a, x, b, model.eps(x, ts[i]))
        if callback is not None:
            callback(i, x)
    return x


def heun(model, x, ts, orders, callback=None):
    """Heun's 2nd-order method (Karras et al. 2022, Algorithm 1, deterministic sampler): per step
        d = eps(x_i); y' = y_i + (rho_{i+1} - rho_i) d;  y_{i+1} = y_i + (rho_{i+1} - rho_i) (d + eps(x')) / 2,
    2 NFE; steps with orders[i] == 1 are Euler steps, 1 NFE (always the step into rho = 0, line 6 of the
    algorithm; a spare NFE of an even budget goes to an Euler first step).
    """
    for i, ((a, b), k) in enumerate(zip(_coefs(model.schedule, ts), orders)):
        eps = model.eps(x, ts[i])
        x_next = lincomb(a, x, b, eps)
        if k == 2:
            x_next = lincomb(a, x, 0.5 * b, eps, 0.5 * b, model.eps(x_next, ts[i + 1]))
        x = x_next
        if callback is not None:
            callback(i, x)
    return x
