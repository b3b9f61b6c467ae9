import torch

from ml import nets
from ml.nets.mlp import timestep_features


def test_timestep_features_are_bounded_and_distinguish_nearby_times():
    f = timestep_features(torch.tensor([0.0, 0.001, 1.0]), 64)
    assert f.shape == (3, 64) and f.abs().max() <= 1
    # t = 0 and t = 0.001 are one DDPM index apart: the highest frequency (1 rad per index) separates them
    assert (f[0] - f[1]).abs().max() > 0.5


def test_mlp2d_keeps_the_sample_shape_also_for_flattened_images():
    net = nets.build("mlp2d", dim=64, width=32, depth=2)
    x = torch.randn(4, 1, 8, 8)
    assert net(x, torch.rand(4)).shape == x.shape
