"""Time grids t_0 = T > t_1 > ... > t_N, returned as Python floats of the schedule's own time.

Final step, explicit:
- final_step="denoise" (default): the grid ends at t = t_min (alpha = 1, sigma = 0 for VP; sigma = 0
  for EDM; t = 0 for flow), so the sample is the estimate of the ODE solution at t = 0. The step into
  t_min is first order (it returns the model's x_0 estimate at the previous point, as k-diffusion and
  diffusers do), because lambda = +inf there and higher-order corrections in lambda are undefined.
  `uniform_t` spaces all N intervals down to t_min (diffusers' "trailing" DDIM: 1, 0.9, ..., 0.1, 0);
  `logsnr` and `karras` cannot reach lambda = +inf, so they space N points from T down to t_eps and
  append t_min (k-diffusion's "append zero").
- final_step="t_eps": the grid ends at t_eps and the sample is x(t_eps), still noisy (sigma ~ 0.01
  for vp_linear at 1e-3); compare it with the exact ODE at t_eps. This is what DPM-Solver's own
  code returns without `denoise_to_zero`, and what convergence-order measurements need.

Grids:
- `uniform_t`: uniform in t (DDIM trailing, DEIS's "time uniform").
- `quadratic_t`: uniform in sqrt(t) (DEIS's and DPM-Solver's code "time_quadratic"), denser near t = 0;
  like `uniform_t` it reaches t_min directly.
- `logsnr`: uniform in lambda = log(alpha/sigma) (DPM-Solver, sec. 3.4 "uniform logSNR").
- `karras`: rho = sigma/alpha spaced as (rho_max^(1/7) + i/(N-1) (rho_min^(1/7) - rho_max^(1/7)))^7
  (Karras et al. 2022, eq. 5, rho = 7); the default on the edm schedule (see runner.default_grid).
"""
from __future__ import annotations

import math


def uniform_t(schedule, T: float, end: float, n: int) -> list[float]:
    return [T + (end - T) * i / n for i in range(n)] + [end]


def quadratic_t(schedule, T: float, end: float, n: int) -> list[float]:
    a, b = math.sqrt(T), math.sqrt(end)
    return [T] + [(a + (b - a) * i / n) ** 2 for i in range(1, n)] + [end]


def logsnr(schedule, T: float, end: float, n: int) -> list[float]:
    if n == 0:
        return [T]
    l0, l1 = schedule.lambda_(_spaced_from(schedule, T, end)), schedule.lambda_(end)
    return [T] + [schedule.t_of_lambda(l0 + (l1 - l0) * i / n) for i in range(1, n)] + [end]


def karras(schedule, T: float, end: float, n: int, rho: float = 7.0) -> list[float]:
    if n == 0:
        return [T]
    r0, r1 = schedule.rho(_spaced_from(schedule, T, end)) ** (1 / rho), schedule.rho(end) ** (1 / rho)
    return [T] + [schedule.t_of_rho((r0 + (r1 - r0) * i / n) ** rho) for i in range(1, n)] + [end]


def _spaced_from(schedule, T: float, t_eps: float) -> float:
    # flow at t = 1 has lambda = -inf, rho = inf: space the grid from T - t_eps, keep T as first point
    return T if is_finite(schedule.lambda_(T)) else T - t_eps


# name -> grid(schedule, T, end, n): n + 1 times from T to end; the first two reach t_min themselves,
# the others stop at t_eps and "denoise" appends t_min
GRIDS = {"uniform_t": uniform_t, "quadratic_t": quadratic_t, "logsnr": logsnr, "karras": karras}
REACH_T_MIN = ("uniform_t", "quadratic_t")
FINAL_STEPS = ("denoise", "t_eps")


def make_grid(schedule, kind: str, n_steps: int, final_step: str = "denoise", t_eps: float | None = None,
              t_start: float | None = None) -> list[float]:
    """N steps -> N + 1 times from t_start (default schedule.t_max) to t_min or t_eps."""
    if n_steps < 1:
        raise ValueError("a grid needs at least one step")
    if final_step not in FINAL_STEPS:
        raise ValueError(f"final_step must be one of {FINAL_STEPS}")
    if kind not in GRIDS:
        raise ValueError(f"unknown grid {kind!r}; known: {tuple(GRIDS)}")
    T = schedule.t_max if t_start is None else t_start
    t_eps = schedule.t_eps if t_eps is None else t_eps
    denoise = final_step == "denoise"
    if kind in REACH_T_MIN:
        return GRIDS[kind](schedule, T, schedule.t_min if denoise else t_eps, n_steps)
    ts = GRIDS[kind](schedule, T, t_eps, n_steps - 1 if denoise else n_steps)
    return ts + [schedule.t_min] if denoise else ts


def is_finite(v: float) -> bool:
    return not (math.isinf(v) or math.isnan(v))
