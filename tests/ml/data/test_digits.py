import torch

from ml.data import make_dataset
from ml.data.digits import digits_half


def test_halves_are_disjoint_stratified_and_scaled():
    x0, y0 = digits_half(0)
    x1, y1 = digits_half(1)
    assert len(x0) + len(x1) == 1797 and x0.shape[1:] == (1, 8, 8)
    assert x0.min() == -1 and x0.max() == 1
    # stratified split: every class is halved to within one image
    assert (torch.bincount(y0, minlength=10) - torch.bincount(y1, minlength=10)).abs().max() <= 1
    # no image of the training half appears in the held-out half (the set has no exact duplicates)
    a = {tuple(v.tolist()) for v in x0.flatten(1)}
    b = {tuple(v.tolist()) for v in x1.flatten(1)}
    assert len(a) == len(x0) and len(b) == len(x1) and not (a & b)


def test_training_sampler_draws_only_from_half_zero():
    ds = make_dataset({"type": "digits"})
    x = ds.sample(200, torch.Generator().manual_seed(0))
    train = {tuple(v.tolist()) for v in digits_half(0)[0].flatten(1)}
    assert ds.shape == (1, 8, 8) and all(tuple(v.tolist()) in train for v in x.flatten(1))
