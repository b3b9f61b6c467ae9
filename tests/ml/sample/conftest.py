"""Shared fixtures: a test mixture, its starting noise and its exact ODE endpoints (scipy), cached per session."""
from __future__ import annotations

import pytest
import torch

from ml.sample.exact import solve_exact
from ml.sample.gmm import GaussianMixture

# a 2-D mixture with moderate component widths, so that 5..50 NFE reach the asymptotic regime of
# every solver; the runner's default preset (std down to 0.05) is used by the runner tests
MEANS = [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7], [0.5, 0.3]]
STDS = [0.3, 0.4, 0.25, 0.5]
WEIGHTS = [0.3, 0.2, 0.3, 0.2]
N = 64


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
