"""Training's ODE solves go through the `sample` kind's solvers; these pin what training relies on."""
import math

import pytest
import torch

from ml.train.ode import flow_path, sampler_for, solve

FLOW = {"schedule": "flow", "prediction": "flow"}


def test_euler_is_exact_in_one_step_on_a_straight_flow():
    x0 = torch.tensor([[1.0, -2.0]])

    def v(x, t):  # the exact velocity of the straight path from x0 to z: (x - x0) / t
        return (x - x0) / t[:, None]

    z = torch.tensor([[0.3, 0.7]])
    torch.testing.assert_close(solve(v, FLOW, z, 1), x0)


def test_heun_converges_at_second_order():
    def v(x, t):  # dx/dt = x, so integrating from t = 1 to 0 gives x(0) = x(1) / e
        return x

    z = torch.ones(1, 1, dtype=torch.float64)
    exact = math.exp(-1)
    errs = [abs(solve(v, FLOW, z, 2 * n - 1, "heun").item() - exact) for n in (8, 16, 32)]
    # the last step is Euler (local error O(h^2)), the others O(h^3): global error O(h^2) -> ratio ~4 per halving
    for e1, e2 in zip(errs, errs[1:]):
        assert 3.0 < e1 / e2 < 5.0


def test_flow_path_reads_each_steps_velocity():
    def v(x, t):
        return x * t[:, None]

    z = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x_end, vs = flow_path(v, z, 4)
    assert len(vs) == 4
    torch.testing.assert_close(vs[0], z)  # at t = 1, v(z) = z
    torch.testing.assert_close(x_end, solve(v, FLOW, z, 4))


def test_dpm_solver_pp_2m_is_exact_for_a_point_mass():
    c = torch.tensor([[0.5, -1.5]], dtype=torch.float64)

    def x0_model(x, t):  # data = a single point: the exact denoiser is constant
        return c.expand_as(x)

    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # exact data prediction makes every DPM-Solver++ step exact (Lu et al. 2022, eq. 8 with constant D)
    x = solve(x0_model, {"schedule": "vp_linear", "prediction": "x0"}, z, 10)
    torch.testing.assert_close(x, c.expand(4, 2))


@pytest.mark.parametrize("cfg, asked, used", [(FLOW, "auto", "rf_euler"), (FLOW, "heun", "rf_heun"),
                                              ({"schedule": "vp_linear"}, "auto", "dpm_solver_pp_2m"),
                                              ({"schedule": "vp_linear"}, "heun", "heun")])
def test_sampler_names_map_to_the_sample_kinds(cfg, asked, used):
    assert sampler_for(cfg, asked) == used
