"""A small UNet for 8x8 single-channel images (the digits), DDPM-style (Ho et al. 2020, Appendix B).

Two resolutions (8x8 and 4x4) with `depth` residual blocks each, GroupNorm + SiLU, the time
embedding added inside every block, skip connections by concatenation. No attention: at 4x4
a 3x3 convolution already sees almost the whole image.
"""
from __future__ import annotations

import torch
from torch import nn

from ml.nets.mlp import timestep_features


def _norm(ch):
    return nn.GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.n1, self.c1 = _norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(tdim, cout)
        self.n2, self.c2 = _norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)  # each block starts as the identity (stable deep starts)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x, temb):
        h = self.c1(nn.functional.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None]
        h = self.c2(nn.functional.silu(self.n2(h)))
        return self.skip(x) + h


class UNet8(nn.Module):
    def __init__(self, channels=1, width=64, depth=2, time_dim=64):
        super().__init__()
        self.time_dim = time_dim
        tdim = 4 * width
        self.time = nn.Sequential(nn.Linear(time_dim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        w2 = 2 * width
        self.down8 = nn.ModuleList(ResBlock(width, width, tdim) for _ in range(depth))
        self.pool = nn.Conv2d(width, w2, 3, stride=2, padding=1)
        self.down4 = nn.ModuleList(ResBlock(w2, w2, tdim) for _ in range(depth))
        self.mid = nn.ModuleList(ResBlock(w2, w2, tdim) for _ in range(2))
        self.up4 = nn.ModuleList(ResBlock(2 * w2, w2, tdim) for _ in range(depth))
        self.upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(w2, width, 3, padding=1))
        self.up8 = nn.ModuleList(ResBlock(2 * width, width, tdim) for _ in range(depth))
        self.out = nn.Sequential(_norm(width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))
        nn.init.zeros_(self.out[2].weight)
        nn.init.zeros_(self.out[2].bias)

    def forward(self, x, t):
        t = t.expand(x.shape[0]) if t.dim() == 0 else t
        temb = self.time(timestep_features(t, self.time_dim).to(x.dtype))
        h = self.inp(x)
        skips8 = []
        for b in self.down8:
            h = b(h, temb)
            skips8.append(h)
        h = self.pool(h)
        skips4 = []
        for b in self.down4:
            h = b(h, temb)
            skips4.append(h)
        for b in self.mid:
            h = b(h, temb)
        for b in self.up4:
            h = b(torch.cat([h, skips4.pop()], 1), temb)
        h = self.upsample(h)
        for b in self.up8:
            h = b(torch.cat([h, skips8.pop()], 1), temb)
        return self.out(h)


def unet8(channels=1, width=64, depth=2, time_dim=64):
    """The registered constructor (`arch: "unet8"`)."""
    return UNet8(channels=channels, width=width, depth=depth, time_dim=time_dim)
