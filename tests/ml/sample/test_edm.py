"""EDM Euler and Heun on the edm (VE) schedule."""
from __future__ import annotations

import torch

from ml.sample.metrics import convergence_order
from ml.sample.model import Model
from ml.sample.runner import solve
from ml.sample.schedules import get_schedule


def test_heun_is_second_order_on_the_edm_schedule(solver_errors):
    errs = solver_errors("heun", (51, 101, 201), schedule="edm", grid="karras")
    assert abs(convergence_order(errs) - 2.0) < 0.3, errs  # Karras et al. 2022, sec. 3: Heun is 2nd order


def test_euler_is_first_order_and_the_same_update_as_ddim(solver_errors, mixture, noise):
    errs = solver_errors("euler", (50, 100, 200), schedule="edm", grid="karras")
    assert abs(convergence_order(errs) - 1.0) < 0.3, errs
    s = get_schedule("vp_linear")
    a, _ = solve(Model(mixture.net(s, "eps"), "eps", s), noise.clone(), "euler", 9, grid="karras")
    b, _ = solve(Model(mixture.net(s, "eps"), "eps", s), noise.clone(), "ddim", 9, grid="karras")
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_heun_spends_2n_minus_1():
    from ml.sample.samplers import get_sampler

    p = get_sampler("heun").plan(35, "denoise")   # EDM's 18 steps
    assert p.n_steps == 18 and p.orders == [2] * 17 + [1]
    p = get_sampler("heun").plan(10, "denoise")   # even: one spare NFE becomes an Euler first step
    assert p.orders == [1] + [2] * 4 + [1] and sum(p.orders) == 10
