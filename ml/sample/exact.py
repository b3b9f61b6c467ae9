"""The exact probability-flow ODE of a Gaussian mixture, solved by scipy to ~1e-10.

Ground truth for every solver test and the benchmark. On purpose this file shares no code with the
solvers, the schedules or `ml.sample.gmm`: it re-derives everything in float64 numpy.

In y = x / alpha and rho = sigma / alpha every schedule gives the same ODE (Song et al. 2021, DDIM eq. 14;
Karras et al. 2022 eq. 4):  dy/drho = eps*(y, rho), where y ~ sum_k w_k N(mu_k, (s_k^2 + rho^2) I), so

    eps*(y, rho) = rho sum_k r_k(y) (y - mu_k) / (s_k^2 + rho^2).

A schedule only enters through rho at the start and end times. The flow schedule starts at t = 1 where
alpha = 0 (rho = inf), so there we integrate dx/dt = eps* - x0* in x and t directly.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp


def _rho(schedule: str, t: float) -> float:
    """rho = sigma / alpha of the named schedule, re-derived here (see module doc)."""
    if schedule == "vp_linear":
        log_alpha = -0.25 * t * t * 19.9 - 0.05 * t
    elif schedule == "vp_cosine":
        s = 0.008
        log_alpha = math.log(math.cos((t + s) / (1 + s) * math.pi / 2)) - math.log(math.cos(s / (1 + s) * math.pi / 2))
    elif schedule == "edm":
        return float(t)
    elif schedule == "flow":
        return math.inf if t >= 1 else t / (1 - t)
    else:
        raise ValueError(schedule)
    # rho^2 = (1 - alpha^2) / alpha^2 = e^{-2 log alpha} - 1
    return math.sqrt(math.expm1(-2.0 * log_alpha))


def _alpha(schedule: str, t: float) -> float:
    if schedule == "edm":
        return 1.0
    if schedule == "flow":
        return 1.0 - t
    return 1.0 / math.sqrt(1.0 + _rho(schedule, t) ** 2)


def _posterior(y, rho, means, var0, logw):
    """Responsibilities and per-component (y - mu_k) / (s_k^2 + rho^2), for y of shape [n, d]."""
    var = var0 + rho * rho
    diff = y[:, None, :] - means[None]
    logits = logw[None] - 0.5 * y.shape[1] * np.log(var)[None] - 0.5 * (diff ** 2).sum(-1) / var[None]
    logits -= logits.max(axis=1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(axis=1, keepdims=True)
    return r, diff / var[None, :, None]


def solve_exact(means, stds, weights, schedule: str, x_start, t_start: float, t_end: float,
                rtol: float = 1e-10, atol: float = 1e-10) -> np.ndarray:
    """x(t_end) of the exact probability-flow ODE from x(t_start) = x_start, for every row of x_start."""
    means = np.asarray(means, dtype=np.float64)
    var0 = np.asarray(stds, dtype=np.float64) ** 2
    w = np.asarray(weights, dtype=np.float64)
    logw = np.log(w / w.sum())
    x_start = np.asarray(x_start, dtype=np.float64)
    shape = x_start.shape
    x_start = x_start.reshape(shape[0], -1)
    n, d = x_start.shape

    if schedule == "flow":
        def rhs(t, flat):
            # x_t ~ sum_k w_k N((1-t) mu_k, ((1-t)^2 s_k^2 + t^2) I);  dx/dt = eps - x0
            x = flat.reshape(n, d)
            a, s = 1.0 - t, t
            var = a * a * var0 + s * s
            diff = x[:, None, :] - a * means[None]
            logits = logw[None] - 0.5 * d * np.log(var)[None] - 0.5 * (diff ** 2).sum(-1) / var[None]
            logits -= logits.max(axis=1, keepdims=True)
            r = np.exp(logits)
            r /= r.sum(axis=1, keepdims=True)
            sc = diff / var[None, :, None]
            eps = s * np.einsum("nk,nkd->nd", r, sc)
            x0 = r @ means + a * np.einsum("nk,nkd->nd", r * var0[None], sc)
            return (eps - x0).ravel()

        sol = solve_ivp(rhs, (t_start, t_end), x_start.ravel(), method="DOP853", rtol=rtol, atol=atol)
        return sol.y[:, -1].reshape(shape)

    y0 = x_start / _alpha(schedule, t_start)
    y1 = solve_exact_rho(means, np.sqrt(var0), w, y0, _rho(schedule, t_start), _rho(schedule, t_end), rtol, atol)
    return (y1 * _alpha(schedule, t_end)).reshape(shape)


def solve_exact_rho(means, stds, weights, y_start, rho_start: float, rho_end: float,
                    rtol: float = 1e-10, atol: float = 1e-10) -> np.ndarray:
    """y(rho_end) of dy/drho = eps*(y, rho) from y(rho_start) = y_start (rows of y_start; y = x / alpha)."""
    means = np.asarray(means, dtype=np.float64)
    var0 = np.asarray(stds, dtype=np.float64) ** 2
    w = np.asarray(weights, dtype=np.float64)
    logw = np.log(w / w.sum())
    y_start = np.asarray(y_start, dtype=np.float64)
    n, d = y_start.shape

    def rhs(rho, flat):
        y = flat.reshape(n, d)
        r, sc = _posterior(y, rho, means, var0, logw)
        return (rho * np.einsum("nk,nkd->nd", r, sc)).ravel()

    sol = solve_ivp(rhs, (rho_start, rho_end), y_start.ravel(), method="DOP853", rtol=rtol, atol=atol)
    return sol.y[:, -1].reshape(n, d)


def exact_samples(means, stds, weights, n: int, seed: int = 0) -> np.ndarray:
    """Independent draws from the data distribution p_0."""
    rng = np.random.default_rng(seed)
    means = np.asarray(means, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    k = rng.choice(len(w), size=n, p=w / w.sum())
    return means[k] + np.asarray(stds, dtype=np.float64)[k, None] * rng.standard_normal((n, means.shape[1]))
