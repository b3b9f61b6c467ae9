"""A network with a declared prediction type and schedule, seen by the solvers; counts NFE.

Prediction types (the one place where they are converted into each other), for x = alpha x_0 + sigma eps:
- "eps":  the noise eps (DDPM),
- "x0":   the data x_0 (DPM-Solver++'s "data prediction"),
- "v":    v = alpha eps - sigma x_0 (Salimans & Ho 2022, diffusers' "v_prediction"),
- "flow": the ODE velocity u = dx/dt = alpha' x_0 + sigma' eps; for the flow schedule
          x_t = (1 - t) x_0 + t z this is u = z - x_0 (rectified flow, diffusers' convention).
Each is linear in (eps, x_0) and x is too, so any one of them determines the other two.

NFE is counted here, at the only door to the network, never inferred from a step count.
"""
from __future__ import annotations

import torch

PREDICTIONS = ("eps", "x0", "v", "flow")


def lincomb(c0, t0, *rest):
    """c0 t0 + c1 t1 + ... for Python-float c_i: one kernel per term (a multiply, then fused in-place
    `add_(t, alpha=c)`), no host sync. Every solver update is such a combination with precomputed c_i."""
    out = t0 * c0
    for c, t in zip(rest[::2], rest[1::2]):
        out.add_(t, alpha=c)
    return out


def from_eps_x0(prediction, eps, x0, alpha, sigma, d_alpha, d_sigma):
    """The output a network of type `prediction` should give, from the exact eps and x_0."""
    if prediction == "eps":
        return eps
    if prediction == "x0":
        return x0
    if prediction == "v":
        return alpha * eps - sigma * x0
    if prediction == "flow":
        return d_alpha * x0 + d_sigma * eps
    raise ValueError(f"unknown prediction type {prediction!r}")


def to_eps(prediction, out, x, alpha, sigma, d_alpha, d_sigma):
    """eps from a network output, for Python-float coefficients (x = alpha x0 + sigma eps)."""
    if prediction == "eps":
        return out
    if prediction == "x0":
        return lincomb(1.0 / sigma, x, -alpha / sigma, out)
    if prediction == "v":
        n = alpha * alpha + sigma * sigma
        return lincomb(sigma / n, x, alpha / n, out)
    if prediction == "flow":
        det = d_sigma * alpha - sigma * d_alpha
        return lincomb(-d_alpha / det, x, alpha / det, out)
    raise ValueError(f"unknown prediction type {prediction!r}")


def to_x0(prediction, out, x, alpha, sigma, d_alpha, d_sigma):
    """x0 from a network output, for Python-float coefficients."""
    if prediction == "x0":
        return out
    if prediction == "eps":
        return lincomb(1.0 / alpha, x, -sigma / alpha, out)
    if prediction == "v":
        n = alpha * alpha + sigma * sigma
        return lincomb(alpha / n, x, -sigma / n, out)
    if prediction == "flow":
        det = d_sigma * alpha - sigma * d_alpha
        return lincomb(d_sigma / det, x, -sigma / det, out)
    raise ValueError(f"unknown prediction type {prediction!r}")


class Model:
    """What a solver sees: `eps(x, t)`, `x0(x, t)`, `velocity(x, t)` and `schedule`; each call is one NFE.

    `net(x, t)` takes t as a float tensor of shape [batch] (the project's network convention), or as a
    Python float when the net says `scalar_t = True` (the analytic mixture). t is the schedule's own time
    (continuous VP time, EDM sigma, flow time).
    """

    def __init__(self, net, prediction: str, schedule):
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction type {prediction!r}; known: {PREDICTIONS}")
        self.net, self.prediction, self.schedule = net, prediction, schedule
        self.scalar_t = getattr(net, "scalar_t", False)
        self.nfe = 0

    def raw(self, x: torch.Tensor, t: float) -> torch.Tensor:
        self.nfe += 1
        if self.scalar_t:
            return self.net(x, t)
        return self.net(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))

    def _coefs(self, t):
        s = self.schedule
        return s.alpha(t), s.sigma(t), s.d_alpha(t), s.d_sigma(t)

    def eps(self, x, t):
        return to_eps(self.prediction, self.raw(x, t), x, *self._coefs(t))

    def x0(self, x, t):
        return to_x0(self.prediction, self.raw(x, t), x, *self._coefs(t))

    def eps_x0(self, x, t):
        """Both eps and x_0 from one network call (one NFE)."""
        c = self._coefs(t)
        out = self.raw(x, t)
        return to_eps(self.prediction, out, x, *c), to_x0(self.prediction, out, x, *c)

    def velocity(self, x, t):
        """dx/dt of the probability-flow ODE, alpha'_t x_0 + sigma'_t eps."""
        a, s, da, ds = self._coefs(t)
        out = self.raw(x, t)
        if self.prediction == "flow":
            return out
        return lincomb(da, to_x0(self.prediction, out, x, a, s, da, ds), ds, to_eps(self.prediction, out, x, a, s, da, ds))
