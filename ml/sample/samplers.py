"""Sampler names -> solver functions, their paper-default grid, and how an NFE budget is spent.

A plan turns an exact NFE budget into a number of grid steps and per-step orders; the solver then
spends exactly that many network calls (checked against the `Model` counter by the runner).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from ml.sample.ddim import ddim
from ml.sample.dpm_solver_pp import dpm_solver_pp_2m, dpm_solver_pp_3m


@dataclass
class Plan:
    n_steps: int                       # grid intervals
    orders: list[int]                  # per step, for the result ("which steps and orders it used")
    nfe: int                           # network calls this plan spends
    kwargs: dict = field(default_factory=dict)  # extra solver arguments (e.g. singlestep orders)


def one_per_step(nfe: int, final_step: str, order: int) -> Plan:
    """Multistep / first-order solvers: one NFE per step; orders ramp up while history fills, and a
    step into t = 0 is first order."""
    orders = [min(order, i + 1) for i in range(nfe)]
    if final_step == "denoise":
        orders[-1] = 1
    return Plan(nfe, orders, nfe)


@dataclass
class Sampler:
    fn: callable
    default_grid: str
    plan: callable
    paper: str


SAMPLERS: dict[str, Sampler] = {
    "ddim": Sampler(ddim, "uniform_t", partial(one_per_step, order=1), "Song et al. 2021"),
    "dpm_solver_pp_2m": Sampler(dpm_solver_pp_2m, "uniform_t", partial(one_per_step, order=2), "Lu et al. 2022b"),
    "dpm_solver_pp_3m": Sampler(dpm_solver_pp_3m, "uniform_t", partial(one_per_step, order=3), "Lu et al. 2022b"),
}


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {sorted(SAMPLERS)}")
    return SAMPLERS[name]


def run_solver(name, model, x, ts, plan: Plan, callback=None):
    return get_sampler(name).fn(model, x, ts, callback=callback, **plan.kwargs)
