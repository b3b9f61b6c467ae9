"""DPM-Solver++(2M)/(3M) against diffusers' DPMSolverMultistepScheduler and against the exact ODE."""
from __future__ import annotations

import numpy as np
import pytest

from ml.sample.dpm_solver_pp import dpm_solver_pp_2m, dpm_solver_pp_3m
from ml.sample.metrics import convergence_order, rmse
from ml.sample.model import Model
from ml.sample.runner import solve
from ml.sample.schedules import VPDiscrete, get_schedule

diffusers = pytest.importorskip("diffusers")


def _compare(fn, mixture, noise, n, **config):
    s = diffusers.DPMSolverMultistepScheduler(beta_schedule="linear", beta_start=1e-4, beta_end=0.02, **config)
    s.set_timesteps(n)
    acp = s.alphas_cumprod.double().numpy()
    x = noise.clone()
    for t in s.timesteps:
        a = acp[int(t)]
        eps, _ = mixture.eps_x0(x, float(np.sqrt(a)), float(np.sqrt(1.0 - a)))
        x = s.step(eps, t, x).prev_sample
    sched = VPDiscrete(acp)
    ts = [(int(t) + 1) / len(acp) for t in s.timesteps] + [0.0]  # DDPM index n <-> t = (n+1)/N; final sigma 0
    ours = fn(Model(mixture.net(sched, "eps"), "eps", sched), noise.clone(), ts)
    return (ours - x).abs().max().item()


@pytest.mark.parametrize("n", [5, 10, 20, 50])
def test_dpm_solver_pp_2m_matches_diffusers_defaults(mixture, noise, n):
    # same algorithm and grid; diffusers keeps sigmas in float32 (measured <= 2e-6)
    assert _compare(dpm_solver_pp_2m, mixture, noise, n) < 1e-5


def test_dpm_solver_pp_3m_matches_diffusers_without_its_lower_order_final(mixture, noise):
    # diffusers drops the second-to-last step to order 2 when N < 15 (lower_order_final); at N >= 15 the
    # algorithms coincide
    assert _compare(dpm_solver_pp_3m, mixture, noise, 20, solver_order=3) < 1e-5


def test_dpm_solver_pp_2m_converges_at_second_order(mixture, noise, exact):
    sched = get_schedule("vp_linear")
    ref = exact("vp_linear", 1.0, sched.t_eps)
    errs = {}
    for n in (50, 100, 200):
        x, _ = solve(Model(mixture.net(sched, "eps"), "eps", sched), noise.clone(), "dpm_solver_pp_2m", n,
                     grid="logsnr", final_step="t_eps")
        errs[n] = rmse(x, ref)
    # theory: order 2 (Lu et al. 2022b, Thm. 3.2 / appendix); the tolerance 0.3
    assert abs(convergence_order(errs) - 2.0) < 0.3
