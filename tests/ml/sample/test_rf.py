"""Rectified-flow Euler on the flow schedule (x_t = (1 - t) x_0 + t z)."""
from __future__ import annotations

import torch

from ml.sample.metrics import convergence_order
from ml.sample.model import Model
from ml.sample.runner import solve
from ml.sample.schedules import get_schedule


def test_rf_euler_is_first_order_on_the_exact_flow(solver_errors):
    errs = solver_errors("rf_euler", (20, 50, 100), schedule="flow", grid="uniform_t", final_step="denoise")
    assert abs(convergence_order(errs) - 1.0) < 0.3, errs


def test_second_order_solvers_start_from_pure_noise_on_flow_models(solver_errors):
    # DPM-Solver++(2M) handles alpha_T = 0 (t = 1) in closed form, so it starts at the flow's noise itself
    errs = solver_errors("dpm_solver_pp_2m", (20, 50, 100), schedule="flow", grid="uniform_t")
    assert abs(convergence_order(errs) - 2.0) < 0.3, errs


def test_noise_form_solvers_start_one_t_eps_below_one(mixture, noise):
    s = get_schedule("flow")
    x, info = solve(Model(mixture.net(s, "flow"), "flow", s), noise.clone(), "deis_2", 10)
    assert info["grid_times"][0] == 1.0 - s.t_eps and torch.isfinite(x).all()
    _, info = solve(Model(mixture.net(s, "flow"), "flow", s), noise.clone(), "rf_euler", 10)
    assert info["grid_times"][0] == 1.0


def test_rf_heun_is_second_order_on_the_exact_flow(solver_errors):
    errs = solver_errors("rf_heun", (21, 51, 101), schedule="flow", grid="uniform_t", final_step="denoise")
    assert abs(convergence_order(errs) - 2.0) < 0.3, errs
    euler = solver_errors("rf_euler", (21,), schedule="flow", grid="uniform_t", final_step="denoise")
    assert errs[21] < euler[21] / 5, (errs, euler)
