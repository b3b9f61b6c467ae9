"""Sampler names -> solver functions, their default grid, and how an NFE budget is spent.

Default grids follow the papers: DDIM, DPM-Solver++, PNDM/PLMS and rectified flow (Euler, Heun) uniform in t; DPM-Solver
(-fast) uniform in logSNR; DEIS quadratic in t (its code's ts_order = 2); EDM Euler/Heun Karras rho = 7.
`deis_r` is the paper's tAB with r (polynomial degree in t, r + 1 points, global order r + 1; r = 0 is DDIM).

A plan turns an exact NFE budget into grid steps and per-step orders; the solver then spends exactly
that many network calls (the runner checks the `Model` counter). Rule shared by all plans: with
final_step="denoise" the step into t = 0 is first order (1 NFE: x = x0_hat at the previous point).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from ml.dna import mdlm
from ml.sample.ddim import ddim
from ml.sample.deis import deis
from ml.sample.dpm_solver import dpm_solver, fast_orders
from ml.sample.dpm_solver_pp import dpm_solver_pp_2m, dpm_solver_pp_3m
from ml.sample.edm import euler, heun
from ml.sample.pndm import pndm, plms
from ml.sample.rf import rf_euler, rf_heun


@dataclass
class Plan:
    n_steps: int                 # grid intervals
    orders: list[int]            # per step, reported in the result ("which steps and orders it used")
    nfe: int                     # network calls this plan spends
    kwargs: dict = field(default_factory=dict)  # extra solver arguments


def multistep_plan(nfe, final_step, order, pass_orders=False, lower_order_final=False):
    """One NFE per step; orders ramp 1, 2, .. while the history fills; into t = 0 first order.
    lower_order_final (DPM-Solver's code, "key to stabilizing ... with very few steps"; diffusers applies it
    below 15 steps): below 15 steps the last steps use order min(order, steps left)."""
    orders = [min(order, i + 1) for i in range(nfe)]
    if lower_order_final and nfe < 15:
        orders = [min(k, nfe - i) for i, k in enumerate(orders)]
    if final_step == "denoise":
        orders[-1] = 1
    return Plan(nfe, orders, nfe, {"orders": orders} if pass_orders else {})


def singlestep_plan(nfe, final_step, order):
    """DPM-Solver-fast's order mix for the budget (Lu et al. 2022, appendix D.1). With final_step="denoise"
    the step into t = 0 must be first order: when the paper's mix already ends with an order-1 step, that
    step goes into t = 0; otherwise one NFE is kept for a final order-1 step."""
    orders = fast_orders(nfe, order)
    if final_step == "denoise" and orders[-1] != 1:
        orders = fast_orders(nfe - 1, order) + [1]
    return Plan(len(orders), orders, nfe, {"orders": orders})


def pndm_plan(nfe, final_step):
    """F-PNDM: up to 3 pseudo-RK warm-up steps (4 NFE each, NFE = N + 9 for N >= 4 steps), then
    pseudo linear multistep (1 NFE); a budget below 13 gets fewer RK steps."""
    reserve = 1 if final_step == "denoise" else 0
    n_rk = min(3, (nfe - reserve) // 4)
    n_steps = nfe - 3 * n_rk
    orders = [4] * n_rk + [min(4, n_rk + j + 1) for j in range(n_steps - n_rk)]
    if final_step == "denoise":
        orders[-1] = 1
    return Plan(n_steps, orders, nfe, {"orders": orders, "n_rk": n_rk})


def plms_plan(nfe, final_step):
    """PLMS: a 2-NFE pseudo improved-Euler first step, then AB2, AB3, AB4 (NFE = N + 1)."""
    denoise = final_step == "denoise"
    if nfe >= (3 if denoise else 2):
        orders = [2] + [min(4, i + 1) for i in range(1, nfe - 1)]
    else:
        orders = [1] * nfe
    if denoise:
        orders[-1] = 1
    return Plan(len(orders), orders, nfe, {"orders": orders})


def heun_plan(nfe, final_step):
    """EDM Heun: 2 NFE per step, the step into rho = 0 Euler (NFE = 2N - 1); an even budget spends
    its spare NFE on an Euler first step."""
    rest = nfe - 1 if final_step == "denoise" else nfe
    orders = [1] * (rest % 2) + [2] * (rest // 2) + ([1] if final_step == "denoise" else [])
    return Plan(len(orders), orders, nfe, {"orders": orders})


@dataclass
class Sampler:
    fn: callable
    default_grid: str
    plan: callable
    starts_at_alpha_0: bool = False  # can start where alpha_T = 0 (flow at t = 1); others start at T - t_eps


SAMPLERS: dict[str, Sampler] = {
    "ddim": Sampler(ddim, "uniform_t", partial(multistep_plan, order=1), True),
    "dpm_solver_1": Sampler(dpm_solver, "logsnr", partial(singlestep_plan, order=1)),
    "dpm_solver_2": Sampler(dpm_solver, "logsnr", partial(singlestep_plan, order=2)),
    "dpm_solver_3": Sampler(dpm_solver, "logsnr", partial(singlestep_plan, order=3)),
    "dpm_solver_pp_2m": Sampler(dpm_solver_pp_2m, "uniform_t", partial(multistep_plan, order=2, pass_orders=True,
                                                                         lower_order_final=True), True),
    "dpm_solver_pp_3m": Sampler(dpm_solver_pp_3m, "uniform_t", partial(multistep_plan, order=3, pass_orders=True,
                                                                         lower_order_final=True), True),
    "deis_1": Sampler(deis, "quadratic_t", partial(multistep_plan, order=2, pass_orders=True)),
    "deis_2": Sampler(deis, "quadratic_t", partial(multistep_plan, order=3, pass_orders=True)),
    "deis_3": Sampler(deis, "quadratic_t", partial(multistep_plan, order=4, pass_orders=True)),
    "pndm": Sampler(pndm, "uniform_t", pndm_plan),
    "plms": Sampler(plms, "uniform_t", plms_plan),
    "euler": Sampler(euler, "karras", partial(multistep_plan, order=1)),
    "heun": Sampler(heun, "karras", heun_plan),
    "rf_euler": Sampler(rf_euler, "uniform_t", partial(multistep_plan, order=1), True),
    "rf_heun": Sampler(rf_heun, "uniform_t", heun_plan, True),
}


# Samplers of masked (absorbing-state) diffusion models, name -> fn(net, n, length, steps, generator, device,
# callback=None): `nfe` - 1 reverse steps then the final argmax, nfe network calls
MASKED_SAMPLERS = {"mdlm_ddpm": mdlm.sample}   # MDLM's ancestral ("ddpm") sampler (Sahoo et al. 2024, sec. 3.3)


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {sorted(SAMPLERS)}")
    return SAMPLERS[name]
