"""Prediction-type conversions (one place) and the NFE counter."""
from __future__ import annotations

import pytest
import torch

from ml.sample.model import PREDICTIONS, Model, from_eps_x0, to_eps, to_x0
from ml.sample.runner import solve
from ml.sample.schedules import get_schedule


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "edm", "flow"])
@pytest.mark.parametrize("pred", PREDICTIONS)
def test_every_prediction_type_converts_back_to_eps_and_x0(name, pred):
    s = get_schedule(name)
    t = 0.37 * s.t_max
    c = (s.alpha(t), s.sigma(t), s.d_alpha(t), s.d_sigma(t))
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    x = c[0] * x0 + c[1] * eps
    out = from_eps_x0(pred, eps, x0, *c)
    # linear algebra on well-conditioned 2x2 systems: float64 rounding only
    torch.testing.assert_close(to_eps(pred, out, x, *c), eps, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(to_x0(pred, out, x, *c), x0, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("sampler", ["ddim", "dpm_solver_pp_2m", "dpm_solver_3", "deis_2", "heun"])
def test_samples_do_not_depend_on_the_declared_prediction_type(mixture, noise, sampler):
    s = get_schedule("vp_linear")
    outs = [solve(Model(mixture.net(s, p), p, s), noise.clone(), sampler, 12)[0] for p in PREDICTIONS]
    for o in outs[1:]:
        # the same exact model seen through different conversions: rounding only, amplified by 1/alpha_T ~ 150
        torch.testing.assert_close(o, outs[0], rtol=1e-8, atol=1e-8)


def test_nfe_is_counted_at_the_network_and_the_budget_is_exact(mixture, noise):
    s = get_schedule("vp_linear")
    calls = []

    def net(x, t):
        calls.append(float(t[0]))
        return mixture.net(s, "eps")(x, float(t[0]))

    m = Model(net, "eps", s)
    for sampler, nfe in [("dpm_solver_3", 10), ("pndm", 15), ("plms", 7), ("heun", 8), ("dpm_solver_pp_3m", 6)]:
        before, counted = len(calls), m.nfe
        _, info = solve(m, noise.clone(), sampler, nfe)
        assert len(calls) - before == nfe
        assert m.nfe - counted == nfe and info["nfe_used"] == nfe


def test_every_plan_spends_exactly_its_budget(mixture, noise):
    from ml.sample.params import SAMPLER_NAMES

    s = get_schedule("vp_linear")
    m = Model(mixture.net(s, "eps"), "eps", s)
    for sampler in SAMPLER_NAMES:
        for final in ("denoise", "t_eps"):
            for nfe in range(1, 17):
                before = m.nfe
                x, info = solve(m, noise[:4].clone(), sampler, nfe, final_step=final)  # raises on a mismatch
                assert m.nfe - before == nfe and len(info["orders"]) == info["steps"]
                assert torch.isfinite(x).all(), (sampler, final, nfe)
