"""tAB-DEIS: quadrature coefficients and convergence orders."""
from __future__ import annotations

import pytest
import torch

from ml.sample.ddim import ddim
from ml.sample.deis import deis, tab_coefs
from ml.sample.grids import make_grid
from ml.sample.metrics import convergence_order
from ml.sample.model import Model
from ml.sample.schedules import get_schedule


def test_coefficients_integrate_polynomials_in_t_exactly():
    s = get_schedule("vp_linear")
    ts = make_grid(s, "quadratic_t", 12, "denoise")
    i = 6
    # the constant basis integrates rho' -> rho_{i+1} - rho_i; with r = 2 the basis sums to that too
    assert tab_coefs(s, ts, i, 0)[0] == pytest.approx(s.rho(ts[i + 1]) - s.rho(ts[i]), rel=1e-12)
    assert sum(tab_coefs(s, ts, i, 2)) == pytest.approx(s.rho(ts[i + 1]) - s.rho(ts[i]), rel=1e-10)


def test_deis_with_constant_extrapolation_is_ddim(mixture, noise):
    s = get_schedule("vp_linear")
    ts = make_grid(s, "uniform_t", 8, "denoise")
    a = deis(Model(mixture.net(s, "eps"), "eps", s), noise.clone(), ts, [1] * 8)
    b = ddim(Model(mixture.net(s, "eps"), "eps", s), noise.clone(), ts)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)  # DEIS paper: r = 0 is DDIM


@pytest.mark.parametrize("sampler,order", [("deis_1", 2), ("deis_2", 3)])
def test_deis_converges_at_order_r_plus_one(solver_errors, sampler, order):
    errs = solver_errors(sampler, (50, 100, 200), grid="logsnr")
    # the tolerance 0.3 around the theoretical order r + 1
    assert abs(convergence_order(errs) - order) < 0.3, errs


def test_deis_3_is_at_least_third_order(solver_errors):
    errs = solver_errors("deis_3", (50, 100, 200), grid="logsnr")
    # theory 4; the first-order warm-up step caps the asymptotic order, measured 3.5-3.8 in this range
    assert convergence_order(errs) > 3.2, errs
