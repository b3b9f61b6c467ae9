"""The scipy reference against closed-form trajectories of a single Gaussian (where the ODE is linear)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ml.sample.exact import exact_samples, solve_exact


def _rho(name, t):
    # independent restatement of rho(t) for the check (DPM-Solver eq. 21 for vp_linear)
    if name == "vp_linear":
        return math.sqrt(math.expm1(2 * (0.25 * t * t * 19.9 + 0.05 * t)))
    return t


@pytest.mark.parametrize("name,t0,t1", [("vp_linear", 1.0, 0.0), ("vp_linear", 0.8, 1e-3), ("edm", 80.0, 0.0)])
def test_single_gaussian_trajectory_is_exact(name, t0, t1):
    mu, s = np.array([1.5, -0.5]), 0.3
    x0 = np.random.default_rng(0).standard_normal((20, 2)) * 3
    out = solve_exact([mu], [s], [1.0], name, x0, t0, t1)
    # y = x/alpha follows y(rho) = mu + (y0 - mu) sqrt((s^2 + rho^2) / (s^2 + rho0^2)) in closed form
    r0, r1 = _rho(name, t0), _rho(name, t1)
    a0, a1 = 1 / math.sqrt(1 + r0 ** 2) if name != "edm" else 1.0, 1 / math.sqrt(1 + r1 ** 2) if name != "edm" else 1.0
    y = mu + (x0 / a0 - mu) * math.sqrt((s * s + r1 * r1) / (s * s + r0 * r0))
    # DOP853 at rtol = atol = 1e-10 on |y| <= 500: 1e-8 is the tolerance scaled by |y|
    np.testing.assert_allclose(out, y * a1, atol=1e-8)


def test_flow_trajectory_of_a_single_gaussian_is_exact():
    # x_t = (1-t) x0 + t z with x0 ~ N(mu, s^2): the ODE map is x_0 = mu + s * z (optimal transport for Gaussians)
    mu, s = np.array([0.7, -1.2]), 0.4
    z = np.random.default_rng(1).standard_normal((20, 2))
    out = solve_exact([mu], [s], [1.0], "flow", z, 1.0, 0.0)
    np.testing.assert_allclose(out, mu + s * z, atol=1e-8)


def test_exact_samples_draw_each_component_by_weight():
    x = exact_samples([[-5.0], [5.0]], [0.1, 0.1], [0.2, 0.8], 10_000, seed=0)
    # binomial: std of the fraction is 0.004; 5 sigma
    assert abs((x[:, 0] > 0).mean() - 0.8) < 0.02
