import math

import pytest
import torch

from ml.data import make_dataset
from ml.data.toys import TOYS, sample_checkerboard, sample_gmm


@pytest.mark.parametrize("name", sorted(TOYS))
def test_each_toy_is_2d_finite_and_reproducible_from_its_generator(name):
    a = TOYS[name](1000, torch.Generator().manual_seed(1))
    b = TOYS[name](1000, torch.Generator().manual_seed(1))
    assert a.shape == (1000, 2) and torch.isfinite(a).all() and torch.equal(a, b)
    assert a.abs().max() < 4  # all toys live in about [-3, 3]^2, the scale the samplers expect


def test_gmm_matches_its_mixture_moments():
    means, stds, weights = [[2.0, 0.0], [-1.0, 1.0]], [0.1, 0.5], [0.75, 0.25]
    x = sample_gmm(40000, torch.Generator().manual_seed(0), means=means, stds=stds, weights=weights)
    mu = torch.tensor([0.75 * 2 - 0.25, 0.25])
    # the mixture's mean; its per-coordinate sd is < 1.4, so the standard error at n = 40000 is < 0.007
    torch.testing.assert_close(x.mean(0), mu, atol=0.035, rtol=0)
    near_first = ((x - torch.tensor([2.0, 0.0])).norm(dim=1) < 0.5).float().mean().item()
    # all of component 0 lies within 5 sd (0.5), component 1's mass there is ~0; binomial sd ~0.002
    assert math.isclose(near_first, 0.75, abs_tol=0.01)


def test_checkerboard_fills_only_the_dark_squares():
    x = sample_checkerboard(10000, torch.Generator().manual_seed(0))
    parity = (torch.floor(x[:, 0]) + torch.floor(x[:, 1])) % 2
    assert torch.all(parity == 0)
    assert x.min() >= -2 and x.max() <= 2


def test_make_dataset_passes_gmm_parameters_through():
    ds = make_dataset({"type": "gmm", "means": [[1.0, 1.0]], "stds": [0.01], "weights": [1.0]})
    x = ds.sample(100, torch.Generator().manual_seed(0))
    assert ds.shape == (2,) and ds.kind == "toy"
    torch.testing.assert_close(x.mean(0), torch.tensor([1.0, 1.0]), atol=0.01, rtol=0)
