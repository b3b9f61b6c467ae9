"""Singlestep DPM-Solver-1/2/3: convergence orders, the paper's intermediate points, the fast order mix."""
from __future__ import annotations

import pytest
import torch

from ml.sample.dpm_solver import fast_orders
from ml.sample.metrics import convergence_order
from ml.sample.model import Model
from ml.sample.runner import solve
from ml.sample.schedules import get_schedule


@pytest.mark.parametrize("sampler,order,nfes", [
    ("dpm_solver_1", 1, (50, 100, 200)),
    ("dpm_solver_2", 2, (50, 100, 200)),
    # NFE = 2 mod 3: all steps third order but one second-order step (local error O(h^3) either way)
    ("dpm_solver_3", 3, (50, 110, 200)),
])
def test_dpm_solver_converges_at_its_order(solver_errors, sampler, order, nfes):
    errs = solver_errors(sampler, nfes)
    # uniform-logSNR grid, stopping at t_eps: the paper's setting; the tolerance 0.3
    assert abs(convergence_order(errs) - order) < 0.3, errs


def test_fast_order_mix_spends_the_budget_exactly():
    for nfe in range(1, 40):
        for k in (1, 2, 3):
            orders = fast_orders(nfe, k)
            assert sum(orders) == nfe and max(orders) <= k
    # the paper's examples (appendix D.1): K = NFE // 3 + 1 steps
    assert fast_orders(9, 3) == [3, 3, 2, 1] and fast_orders(10, 3) == [3, 3, 3, 1] and fast_orders(11, 3) == [3, 3, 3, 2]


def test_intermediate_points_are_at_a_third_and_two_thirds_in_lambda(mixture, noise):
    s = get_schedule("vp_linear")
    seen = []

    def net(x, t):
        seen.append(t)
        return mixture.net(s, "eps")(x, t)
    net.scalar_t = True
    _, info = solve(Model(net, "eps", s), noise.clone(), "dpm_solver_3", 6, grid="logsnr", final_step="t_eps")
    assert info["orders"] == [3, 2, 1]  # 6 NFE -> the paper's fast mix
    ts = info["grid_times"]
    lam = [s.lambda_(t) for t in seen[:3]]
    h = s.lambda_(ts[1]) - s.lambda_(ts[0])
    # the first (third-order) step evaluates at lambda_s, lambda_s + h/3, lambda_s + 2h/3 (Algorithm 2);
    # grid times are rounded to 8 digits in info, hence 1e-6
    assert abs(lam[1] - lam[0] - h / 3) < 1e-6 and abs(lam[2] - lam[0] - 2 * h / 3) < 1e-6
    # then the second-order step at its midpoint in lambda (Algorithm 1, r1 = 1/2)
    h2 = s.lambda_(ts[2]) - s.lambda_(ts[1])
    assert abs(s.lambda_(seen[4]) - s.lambda_(seen[3]) - h2 / 2) < 1e-6


def test_denoise_step_into_zero_is_first_order_and_lands_on_x0(mixture, noise):
    s = get_schedule("vp_linear")
    for sampler in ("dpm_solver_2", "dpm_solver_3"):
        x, info = solve(Model(mixture.net(s, "eps"), "eps", s), noise.clone(), sampler, 7)
        assert info["orders"][-1] == 1 and info["grid_times"][-1] == 0.0 and torch.isfinite(x).all()
