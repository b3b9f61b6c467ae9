"""The digits classifier MLP 64 -> 256 -> 256 -> 10 (the quantization smoke model)."""
from torch import nn


def digits_mlp(hidden=256, n_in=64, n_classes=10):
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_classes))
