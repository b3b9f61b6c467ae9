"""Small CNN reward oracle for DNA: activity regression (column 0) + accessibility logit (column 1).

Stands in for the paper's gReLU/Enformer oracles: 3 dilated conv
layers (k=7, dilations 1, 2, 4), max + mean pooling, an MLP. Accepts soft one-hot input [B, L, 4], so
gradients reach a relaxed sequence (DRAKES's straight-through sample, classifier guidance).
"""
from __future__ import annotations

import torch
from torch import nn


class DnaOracle(nn.Module):
    def __init__(self, width: int = 64, kernel: int = 7, n_out: int = 2):
        super().__init__()
        layers, c = [], 4
        for d in (1, 2, 4):
            layers += [nn.Conv1d(c, width, kernel, dilation=d, padding=d * (kernel // 2)), nn.GELU()]
            c = width
        self.convs = nn.Sequential(*layers)
        self.mlp = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x.transpose(1, 2))
        return self.mlp(torch.cat([h.amax(-1), h.mean(-1)], 1))


def dna_oracle(width: int = 64, kernel: int = 7, n_out: int = 2) -> DnaOracle:
    return DnaOracle(width, kernel, n_out)
