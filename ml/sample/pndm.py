"""PNDM (F-PNDM, pseudo Runge-Kutta warm-up) and PLMS (S-PNDM style, as in LDM / diffusers)."""
from __future__ import annotations

from ml.sample.model import lincomb

# Adams-Bashforth weights on eps_i, eps_{i-1}, ... (PNDM eq. 12 and its lower-order warm-ups)
AB = {1: (1.0,), 2: (1.5, -0.5), 3: (23 / 12, -16 / 12, 5 / 12), 4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def transfer_coefs(s, t, t_next):
    """(a, b) of the PNDM transfer part phi(x_t, eps, t, t') = a x_t + b eps (Liu et al. 2022, eq. 11):
    the DDIM step x' = alpha' (x - sigma eps) / alpha + sigma' eps."""
    a, a_next = s.alpha(t), s.alpha(t_next)
    return a_next / a, s.sigma(t_next) - a_next * s.sigma(t) / a


def _multistep(x, a, b, weights, eps_hist):
    """phi(x, sum_j w_j eps_{i-j}) as one linear combination."""
    return lincomb(a, x, *[v for w, e in zip(weights, eps_hist) for v in (b * w, e)])


def pndm(model, x, ts, orders, n_rk=3, callback=None):
    """F-PNDM (Liu et al., ICLR 2022, "Pseudo Numerical Methods for Diffusion Models on Manifolds"):
    the first n_rk steps (3 in the paper) are pseudo Runge-Kutta steps (eq. 13, 4 NFE):
        e1 = eps(x, t); e2 = eps(phi(x, e1, t, t-d/2), t-d/2); e3 = eps(phi(x, e2, t, t-d/2), t-d/2);
        e4 = eps(phi(x, e3, t, t-d), t-d);  x' = phi(x, (e1 + 2 e2 + 2 e3 + e4) / 6, t, t-d),
    the others pseudo linear multistep steps (eq. 12, 1 NFE) x' = phi(x, sum_j AB_j eps_{i-j}, t, t-d),
    with the Adams-Bashforth order orders[i] (4 once three past eps exist; 1, i.e. DDIM, into t = 0).
    The history holds e1 of each step. Coefficients assume equal steps: use the uniform-t grid (the paper's).
    Like any explicit Runge-Kutta step, the pseudo-RK warm-up is unstable when a first step spans most of
    the noise range: measured on vp_cosine / flow it needs about 30 NFE (12 NFE: RMSE 30 / 5e3), where
    plms and deis are fine; vp_linear is fine from 12 NFE.
    """
    s = model.schedule
    coefs = []
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        t_mid = 0.5 * (t + t_next)
        coefs.append((t_mid, transfer_coefs(s, t, t_mid), transfer_coefs(s, t, t_next)))
    hist = []
    for i, k in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        t_mid, (am, bm), (a, b) = coefs[i]
        e1 = model.eps(x, t)
        if i < n_rk:
            e2 = model.eps(lincomb(am, x, bm, e1), t_mid)
            e3 = model.eps(lincomb(am, x, bm, e2), t_mid)
            e4 = model.eps(lincomb(a, x, b, e3), t_next)
            x_next = _multistep(x, a, b, (1 / 6, 2 / 6, 2 / 6, 1 / 6), (e1, e2, e3, e4))
        else:
            x_next = _multistep(x, a, b, AB[min(k, len(hist) + 1)], [e1] + hist)
        hist = ([e1] + hist)[:3]
        x = x_next
        if callback is not None:
            callback(i, x)
    return x


def plms(model, x, ts, orders, callback=None):
    """PLMS (Liu et al. 2022, S-PNDM's pseudo linear multistep; the sampler of LDM / Stable Diffusion,
    diffusers' PNDMScheduler(skip_prk_steps=True)): the first step is a pseudo improved Euler step
    (2 NFE: e' = (eps(x, t) + eps(phi(x, eps, t, t'), t')) / 2), then Adams-Bashforth of order 2, 3, 4
    on the eps history (eq. 12), 1 NFE each. orders[0] == 2 asks for the improved-Euler first step.
    """
    s = model.schedule
    coefs = [transfer_coefs(s, ts[i], ts[i + 1]) for i in range(len(ts) - 1)]
    hist = []
    for i, k in enumerate(orders):
        (a, b), t, t_next = coefs[i], ts[i], ts[i + 1]
        e1 = model.eps(x, t)
        if i == 0 and k == 2:
            e2 = model.eps(lincomb(a, x, b, e1), t_next)
            x_next = _multistep(x, a, b, (0.5, 0.5), (e1, e2))
        else:
            x_next = _multistep(x, a, b, AB[min(k, len(hist) + 1)], [e1] + hist)
        hist = ([e1] + hist)[:3]
        x = x_next
        if callback is not None:
            callback(i, x)
    return x
