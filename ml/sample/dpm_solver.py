"""DPM-Solver-1, -2, -3 (singlestep, noise-prediction form) and the "fast" order mix."""
from __future__ import annotations

import math

from ml.sample.model import lincomb


def exp_euler_coefs(s, t_s, t_t):
    """(a, b) with x_t = a x_s + b eps_s: DPM-Solver-1 (Lu et al. 2022, eq. 3.7 with k = 1).

    a = alpha_t / alpha_s, b = -sigma_t (e^h - 1), h = lambda_t - lambda_s. Into sigma_t = 0 (h = inf)
    b has the finite limit -alpha_t sigma_s / alpha_s, so the step returns alpha_t x0_hat."""
    a = s.alpha(t_t) / s.alpha(t_s)
    if s.sigma(t_t) == 0.0:
        return a, -s.alpha(t_t) * s.sigma(t_s) / s.alpha(t_s)
    return a, -s.sigma(t_t) * math.expm1(s.lambda_(t_t) - s.lambda_(t_s))


def fast_orders(steps: int, order: int) -> list[int]:
    """Orders of DPM-Solver-fast for a budget of `steps` NFE (Lu et al. 2022, sec. 3.4 / appendix D.1):
    as many order-`order` steps as fit, the remainder as one lower-order step at the end."""
    if steps <= 0:
        return []
    if order == 3:
        k = steps // 3 + 1
        if steps % 3 == 0:
            return [3] * (k - 2) + [2, 1]
        return [3] * (k - 1) + ([1] if steps % 3 == 1 else [2])
    if order == 2:
        return [2] * (steps // 2) + [1] * (steps % 2)
    return [1] * steps


def dpm_solver(model, x, ts, orders, callback=None, r1=None, r2=None):
    """Singlestep DPM-Solver (Lu et al., NeurIPS 2022, arXiv 2206.00927): step i goes ts[i] -> ts[i+1]
    with order orders[i], spending orders[i] NFE.

    Order 1 (eq. 3.7): x_t = (alpha_t/alpha_s) x_s - sigma_t (e^h - 1) eps_s.
    Order 2 (Algorithm 1, DPM-Solver-2, r1 = 1/2): an intermediate point s1 with lambda_s1 = lambda_s + r1 h,
        u = exp-Euler(x_s, s -> s1);  x_t = exp-Euler(x_s, s -> t) - sigma_t/(2 r1) (e^h - 1) (eps(u, s1) - eps_s).
    Order 3 (Algorithm 2, DPM-Solver-3, r1 = 1/3, r2 = 2/3): two intermediate points, see the code.
    Intermediate points are placed in lambda as in the paper (not on the next grid points, as diffusers'
    `DPMSolverSinglestepScheduler` does). A step into sigma = 0 (h = inf) must be order 1.
    """
    s = model.schedule
    steps = []
    for i, k in enumerate(orders):
        t_s, t_t = ts[i], ts[i + 1]
        if k > 1 and s.sigma(t_t) == 0.0:
            raise ValueError("a step into sigma = 0 must be first order")
        h = s.lambda_(t_t) - s.lambda_(t_s)
        c = {"k": k, "t_s": t_s, "full": exp_euler_coefs(s, t_s, t_t)}
        if k == 2:
            ra = 0.5 if r1 is None else r1
            t1 = s.t_of_lambda(s.lambda_(t_s) + ra * h)
            c.update(t1=t1, to1=exp_euler_coefs(s, t_s, t1), corr=-s.sigma(t_t) / (2 * ra) * math.expm1(h))
        elif k == 3:
            ra, rb = (1 / 3 if r1 is None else r1), (2 / 3 if r2 is None else r2)
            t1, t2 = s.t_of_lambda(s.lambda_(t_s) + ra * h), s.t_of_lambda(s.lambda_(t_s) + rb * h)
            phi2_b = math.expm1(rb * h) / (rb * h) - 1.0
            c.update(t1=t1, t2=t2, to1=exp_euler_coefs(s, t_s, t1), to2=exp_euler_coefs(s, t_s, t2),
                     u2_corr=-s.sigma(t2) * rb / ra * phi2_b,
                     corr=-s.sigma(t_t) / rb * (math.expm1(h) / h - 1.0))
        steps.append(c)

    for i, c in enumerate(steps):
        eps_s = model.eps(x, c["t_s"])
        a, b = c["full"]
        if c["k"] == 1:
            x_next = lincomb(a, x, b, eps_s)
        elif c["k"] == 2:
            a1, b1 = c["to1"]
            e1 = model.eps(lincomb(a1, x, b1, eps_s), c["t1"])
            x_next = lincomb(a, x, b - c["corr"], eps_s, c["corr"], e1)
        else:
            a1, b1 = c["to1"]
            e1 = model.eps(lincomb(a1, x, b1, eps_s), c["t1"])
            a2, b2 = c["to2"]
            e2 = model.eps(lincomb(a2, x, b2 - c["u2_corr"], eps_s, c["u2_corr"], e1), c["t2"])
            x_next = lincomb(a, x, b - c["corr"], eps_s, c["corr"], e2)
        x = x_next
        if callback is not None:
            callback(i, x)
    return x
