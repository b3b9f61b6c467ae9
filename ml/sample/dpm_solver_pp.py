"""DPM-Solver++ multistep, orders 2 and 3 (data-prediction form)."""
from __future__ import annotations

import math


def _step_coefs(s, ts):
    """Per step i (t_i -> t_{i+1}): h_i, sigma ratio, alpha_{i+1}, and phi_1 = -expm1(-h) (lambda form)."""
    lam = [s.lambda_(t) for t in ts]
    alphas = [s.alpha(t) for t in ts]
    sigmas = [s.sigma(t) for t in ts]
    hs = [lam[i + 1] - lam[i] for i in range(len(ts) - 1)]
    return lam, alphas, sigmas, hs


def dpm_solver_pp_2m(model, x, ts, callback=None):
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2):

        x_{t_i} = (sigma_{t_i} / sigma_{t_{i-1}}) x_{t_{i-1}} - alpha_{t_i} (e^{-h_i} - 1) D_i,
        D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2},   r_i = h_{i-1} / h_i,

    h_i = lambda_{t_i} - lambda_{t_{i-1}}. The first step is first order (no history), and so is a step
    into sigma = 0, where h = inf: its limit is x = x0_hat (diffusers forces the same with
    final_sigmas_type="zero"). One NFE per step.
    """
    s = model.schedule
    lam, alphas, sigmas, hs = _step_coefs(s, ts)
    x0_prev = None
    for i in range(len(ts) - 1):
        x0 = model.x0(x, ts[i])
        if sigmas[i + 1] == 0.0:
            x = x0
        else:
            h = hs[i]
            d = x0 if x0_prev is None else (1 + 0.5 / (hs[i - 1] / h)) * x0 - (0.5 / (hs[i - 1] / h)) * x0_prev
            x = (sigmas[i + 1] / sigmas[i]) * x + (-alphas[i + 1] * math.expm1(-h)) * d
        x0_prev = x0
        if callback is not None:
            callback(i, x)
    return x


def dpm_solver_pp_3m(model, x, ts, callback=None):
    """DPM-Solver++(3M) (Lu et al. 2022, "DPM-Solver++", multistep third order, appendix; the update
    diffusers' `multistep_dpm_solver_third_order_update` implements), with x0 history m0, m1, m2:

        D1 = D1_0 + r0/(r0+r1) (D1_0 - D1_1),  D2 = (D1_0 - D1_1)/(r0+r1),  D1_j = (m_j - m_{j+1}) / r_j
        x_t = (sigma_t/sigma_s) x - alpha_t (e^{-h}-1) m0 + alpha_t ((e^{-h}-1)/h + 1) D1
              - alpha_t ((e^{-h}-1+h)/h^2 - 1/2) D2

    Orders ramp 1, 2, 3 while history fills; the step into sigma = 0 is first order (x = x0_hat).
    One NFE per step.
    """
    s = model.schedule
    lam, alphas, sigmas, hs = _step_coefs(s, ts)
    hist = []
    for i in range(len(ts) - 1):
        m0 = model.x0(x, ts[i])
        if sigmas[i + 1] == 0.0:
            x = m0
        else:
            h, a_t = hs[i], alphas[i + 1]
            phi1 = math.expm1(-h)
            x = (sigmas[i + 1] / sigmas[i]) * x - (a_t * phi1) * m0
            if len(hist) >= 1:
                r0 = hs[i - 1] / h
                d1_0 = (m0 - hist[-1]) / r0
                if len(hist) >= 2:
                    r1 = hs[i - 2] / h
                    d1_1 = (hist[-1] - hist[-2]) / r1
                    d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1)
                    d2 = (d1_0 - d1_1) / (r0 + r1)
                    x = x + (a_t * (phi1 / h + 1.0)) * d1 - (a_t * ((phi1 + h) / h ** 2 - 0.5)) * d2
                else:
                    x = x - (0.5 * a_t * phi1) * d1_0
        hist = (hist + [m0])[-2:]
        if callback is not None:
            callback(i, x)
    return x
