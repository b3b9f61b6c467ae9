"""Schedules: inverses, derivatives, and the continuous VP against the DDPM table it stands for."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ml.sample.schedules import EDM, VPDiscrete, VPLinear, get_schedule


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "edm", "flow"])
def test_t_of_lambda_inverts_lambda(name):
    s = get_schedule(name)
    for frac in (0.001, 0.01, 0.2, 0.5, 0.9, 0.999):
        t = frac * s.t_max
        # closed-form inverses: exact up to float64 rounding amplified by d t / d lambda (< 1e3 here)
        assert abs(s.t_of_lambda(s.lambda_(t)) - t) < 1e-9 * max(1.0, s.t_max)


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "edm", "flow"])
def test_derivatives_match_central_differences(name):
    s = get_schedule(name)
    h = 1e-6 * s.t_max
    for frac in (0.05, 0.5, 0.9):
        t = frac * s.t_max
        # central differences have error O(h^2 f''') ~ 1e-12, rounding ~1e-10 / h-scaled
        assert abs(s.d_alpha(t) - (s.alpha(t + h) - s.alpha(t - h)) / (2 * h)) < 1e-6 * max(1, abs(s.d_alpha(t)))
        assert abs(s.d_sigma(t) - (s.sigma(t + h) - s.sigma(t - h)) / (2 * h)) < 1e-6 * max(1, abs(s.d_sigma(t)))


def test_vp_linear_is_the_continuous_limit_of_ddpm_betas():
    betas = np.linspace(1e-4, 0.02, 1000)
    acp = np.cumprod(1 - betas)
    s = VPLinear()
    for n in (0, 99, 499, 999):
        # log(1 - beta) = -beta + O(beta^2) and the Riemann sum of beta(t): relative gap below 1% of log alpha^2
        assert abs(2 * s.log_alpha((n + 1) / 1000) - math.log(acp[n])) < 0.01 * abs(math.log(acp[n])) + 1e-3


def test_discrete_schedule_reads_the_table_at_its_nodes():
    acp = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    s = VPDiscrete(acp)
    assert s.alpha(0.0) == 1.0 and s.sigma(0.0) == 0.0
    for n in (0, 500, 999):
        assert abs(s.alpha((n + 1) / 1000) ** 2 - acp[n]) < 1e-12
        assert abs(s.t_of_lambda(s.lambda_((n + 1) / 1000)) - (n + 1) / 1000) < 1e-9


def test_edm_is_variance_exploding():
    s = EDM()
    assert s.alpha(3.0) == 1.0 and s.sigma(3.0) == 3.0 and s.rho(3.0) == 3.0
    assert s.t_max == 80.0 and s.t_eps == 0.002


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "edm", "flow"])
def test_tensor_forms_are_the_float_forms(name):
    import torch

    s = get_schedule(name)
    ts = [frac * s.t_max for frac in (0.001, 0.05, 0.5, 0.9, 0.999)]
    t = torch.tensor(ts, dtype=torch.float64)
    for f in ("alpha", "sigma", "d_alpha", "d_sigma"):
        got = getattr(s, f)(t)
        assert isinstance(got, torch.Tensor) and got.shape == t.shape, f
        # the same formula evaluated by torch instead of math: float64 rounding only
        np.testing.assert_allclose(got.numpy(), [getattr(s, f)(x) for x in ts], rtol=1e-13, atol=1e-15, err_msg=f)


def test_vp_sigma_keeps_its_precision_near_t_0_in_float32():
    import torch

    t = torch.tensor([1e-4, 1e-3, 1e-2], dtype=torch.float32)
    _, sigma = VPLinear().alpha_sigma(t)
    exact = [math.sqrt(-math.expm1(2 * VPLinear().log_alpha(x))) for x in t.double().tolist()]
    # sqrt(1 - alpha^2) in float32 loses ~6e-8 / sigma^2 relative (3e-4 at t = 1e-3); expm1 keeps ~1e-7
    np.testing.assert_allclose(sigma.numpy(), exact, rtol=1e-6)
