"""Shared fixtures: a test mixture, its starting noise and its exact ODE endpoints (scipy), cached per session."""
from __future__ import annotations

import pytest
import torch

from ml.sample.exact import solve_exact
from ml.sample.gmm import GaussianMixture

# a 2-D mixture with moderate component widths, so that 5..50 NFE reach the asymptotic regime of
# every solver; the runner's default preset (std down to 0.05) is used by the runner tests
MEANS = [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7], [0.5, 0.3]]
STDS = [0.5, 0.6, 0.45, 0.7]
WEIGHTS = [0.3, 0.2, 0.3, 0.2]
N = 64


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests run thousands of calls on [64, 2] tensors: thread start-up and contention on a loaded
    2-core machine cost 10-100x the work, so this folder runs single-threaded (restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def spec():
    return {"means": MEANS, "stds": STDS, "weights": WEIGHTS}


@pytest.fixture(scope="session")
def mixture():
    return GaussianMixture(MEANS, STDS, WEIGHTS, dtype=torch.float64)


@pytest.fixture(scope="session")
def noise():
    return torch.randn(N, 2, generator=torch.Generator().manual_seed(1234), dtype=torch.float64)


class ExactCache:
    """Exact endpoints keyed by (schedule, t_start, t_end); scipy DOP853 at rtol = atol = 1e-11."""

    def __init__(self, noise):
        self.noise = noise
        self.cache = {}

    def __call__(self, schedule: str, t_start: float, t_end: float, scale: float = 1.0) -> torch.Tensor:
        key = (schedule, float(t_start), float(t_end), scale)
        if key not in self.cache:
            ref = solve_exact(MEANS, STDS, WEIGHTS, schedule, self.noise.numpy() * scale, t_start, t_end,
                              rtol=1e-11, atol=1e-11)
            self.cache[key] = torch.from_numpy(ref)
        return self.cache[key]


@pytest.fixture(scope="session")
def exact(noise):
    return ExactCache(noise)


@pytest.fixture(scope="session")
def solver_errors(mixture, noise, exact):
    """errors(sampler, nfes, schedule, grid, final_step) -> {nfe: RMSE vs the exact ODE from the same start}."""
    from ml.sample.metrics import rmse
    from ml.sample.model import Model
    from ml.sample.runner import prior_std, solve
    from ml.sample.schedules import get_schedule

    def errors(sampler, nfes, schedule="vp_linear", grid="logsnr", final_step="t_eps", prediction=None):
        s = get_schedule(schedule)
        pred = prediction or ("flow" if schedule == "flow" else "eps")
        scale = prior_std(s)
        out = {}
        for n in nfes:
            x, info = solve(Model(mixture.net(s, pred), pred, s), noise.clone() * scale, sampler, n, grid=grid,
                            final_step=final_step)
            ref = exact(schedule, info["grid_times"][0], info["grid_times"][-1], scale)
            out[n] = rmse(x, ref)
        return out

    return errors
