import math

import torch

from ml.train.ode import flow_euler, flow_heun, vp_dpmpp_2m


def test_euler_is_exact_in_one_step_on_a_straight_flow():
    x0 = torch.tensor([[1.0, -2.0]])

    def v(x, t):  # the exact velocity of the straight path from x0 to z: (x - x0) / t
        return (x - x0) / t[:, None]

    z = torch.tensor([[0.3, 0.7]])
    torch.testing.assert_close(flow_euler(v, z, 1), x0)


def test_heun_converges_at_second_order():
    def v(x, t):  # dx/dt = x, so integrating from t = 1 to 0 gives x(0) = x(1) / e
        return x

    z = torch.ones(1, 1, dtype=torch.float64)
    exact = math.exp(-1)
    errs = [abs(flow_heun(v, z, 2 * n - 1).item() - exact) for n in (8, 16, 32)]
    # the last step is Euler (local error O(h^2)), the others O(h^3): global error O(h^2) -> ratio ~4 per halving
    for e1, e2 in zip(errs, errs[1:]):
        assert 3.0 < e1 / e2 < 5.0


def test_dpm_solver_pp_2m_is_exact_for_a_point_mass():
    c = torch.tensor([[0.5, -1.5]])

    def x0_model(x, t):  # data = a single point: the exact denoiser is constant
        return c.expand_as(x)

    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    # exact data prediction makes every DPM-Solver++ step exact (Lu et al. 2022, eq. 8 with constant D)
    torch.testing.assert_close(vp_dpmpp_2m(x0_model, z, 10, "x0"), c.expand(4, 2))
