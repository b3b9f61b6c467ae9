"""Euler and Heun in (y = x / alpha, rho = sigma / alpha), as in EDM (Karras et al. 2022)."""
from __future__ import annotations


def euler(model, x, ts, callback=None):
    """Euler on the probability-flow ODE dy/drho = eps (Karras et al. 2022, eq. 4 / Algorithm 1 without
    the correction; k-diffusion's `sample_euler`): y' = y + (rho' - rho) eps(x, t). Mathematically the
    same update as DDIM; it differs from `ddim` only in its default grid (Karras rho = 7). 1 NFE per step.
    """
    s = model.schedule
    alphas = [s.alpha(t) for t in ts]
    rhos = [s.rho(t) for t in ts]
    for i in range(len(ts) - 1):
        eps, x0 = model.eps_x0(x, ts[i])
        # into rho = 0 the update is exactly y = x0_hat; written that way it needs no y = x / alpha
        x = alphas[i + 1] * x0 if rhos[i + 1] == 0.0 else \
            (alphas[i + 1] / alphas[i]) * x + alphas[i + 1] * (rhos[i + 1] - rhos[i]) * eps
        if callback is not None:
            callback(i, x)
    return x


def heun(model, x, ts, orders, callback=None):
    """Heun's 2nd-order method (Karras et al. 2022, Algorithm 1, deterministic sampler): per step
        d = eps(x_i); y' = y_i + (rho_{i+1} - rho_i) d;  y_{i+1} = y_i + (rho_{i+1} - rho_i) (d + eps(x')) / 2,
    2 NFE; steps with orders[i] == 1 are Euler steps, 1 NFE (always the step into rho = 0, line 6 of the
    algorithm; spare odd NFE go to an Euler first step).
    """
    s = model.schedule
    alphas = [s.alpha(t) for t in ts]
    rhos = [s.rho(t) for t in ts]
    for i, k in enumerate(orders):
        a, a1, drho = alphas[i], alphas[i + 1], rhos[i + 1] - rhos[i]
        eps, x0 = model.eps_x0(x, ts[i])
        if rhos[i + 1] == 0.0:
            x_next = a1 * x0
        else:
            x_next = (a1 / a) * x + a1 * drho * eps
            if k == 2:
                x_next = (a1 / a) * x + a1 * drho * 0.5 * (eps + model.eps(x_next, ts[i + 1]))
        x = x_next
        if callback is not None:
            callback(i, x)
    return x
