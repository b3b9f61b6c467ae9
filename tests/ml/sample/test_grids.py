"""Time grids: endpoints, monotonicity, and the explicit final-step convention."""
from __future__ import annotations

import math

import pytest

from ml.sample.grids import make_grid
from ml.sample.schedules import get_schedule


@pytest.mark.parametrize("kind", ["uniform_t", "quadratic_t", "logsnr", "karras"])
@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "edm", "flow"])
def test_grids_run_from_t_max_down_to_zero_or_t_eps(kind, name):
    s = get_schedule(name)
    for final, end in (("denoise", s.t_min), ("t_eps", s.t_eps)):
        ts = make_grid(s, kind, 7, final)
        assert len(ts) == 8 and ts[0] == s.t_max and ts[-1] == end
        assert all(a > b for a, b in zip(ts, ts[1:]))
    if kind in ("logsnr", "karras"):
        # the step into t = 0 is appended after the last spaced point t_eps
        assert make_grid(s, kind, 7, "denoise")[-2] == s.t_eps


def test_logsnr_grid_is_uniform_in_lambda_and_karras_in_rho_to_the_one_seventh():
    s = get_schedule("vp_linear")
    lam = [s.lambda_(t) for t in make_grid(s, "logsnr", 6, "t_eps")]
    steps = [b - a for a, b in zip(lam, lam[1:])]
    assert max(steps) - min(steps) < 1e-9
    r = [s.rho(t) ** (1 / 7) for t in make_grid(s, "karras", 6, "t_eps")]
    steps = [b - a for a, b in zip(r, r[1:])]
    assert max(steps) - min(steps) < 1e-9


def test_uniform_t_denoise_grid_is_diffusers_trailing_spacing():
    s = get_schedule("vp_linear")
    ts = make_grid(s, "uniform_t", 10, "denoise")
    assert [round(t * 1000) for t in ts] == [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert math.isinf(s.lambda_(ts[-1]))


def test_the_edm_schedule_defaults_to_the_karras_grid():
    from ml.sample.runner import plan_grid

    s = get_schedule("edm")
    _, ts, info = plan_grid(s, "dpm_solver_pp_2m", 10)
    assert info["grid"] == "karras" and ts[1] < 50    # Karras: 42.4; uniform sigma would put t_1 at 72
    assert plan_grid(get_schedule("vp_linear"), "dpm_solver_pp_2m", 10)[2]["grid"] == "uniform_t"
