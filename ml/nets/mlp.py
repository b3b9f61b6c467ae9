"""Residual MLP with sinusoidal time features, for 2-D toys (and flattened 8x8 digits).

Call convention of every continuous model here: `net(x, t)`, t a float tensor [batch] in
[0, 1] (VP time or flow time). Time enters through sinusoidal features (Vaswani et al. 2017,
as used for the DDPM timestep embedding, Ho et al. 2020, Appendix B), added in every block.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def timestep_features(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[batch] -> [batch, dim]; t is scaled by 1000 so that t in [0, 1] spans the DDPM index range
    the frequencies were designed for (1 / max_period ... 1 per index)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1).to(t.dtype if t.is_floating_point() else torch.float32)


class TimeMLP(nn.Module):
    def __init__(self, dim=2, width=256, depth=3, time_dim=64):
        super().__init__()
        self.dim, self.time_dim = dim, time_dim
        self.time = nn.Sequential(nn.Linear(time_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width)) for _ in range(depth))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, dim))
        # a zero last layer makes the untrained net predict 0: a neutral start for every objective
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, x, t):
        shape = x.shape
        h = self.inp(x.reshape(shape[0], -1))
        temb = self.time(timestep_features(t.expand(shape[0]) if t.dim() == 0 else t, self.time_dim).to(h.dtype))
        for block in self.blocks:
            h = h + block(h + temb)
        return self.out(h).reshape(shape)


def mlp2d(dim=2, width=256, depth=3, time_dim=64):
    """The registered constructor (`arch: "mlp2d"`); `dim` is the flattened data size."""
    return TimeMLP(dim=dim, width=width, depth=depth, time_dim=time_dim)
