"""decoupleQ's first-level integer step: projected gradient descent on the relaxed problem, then rounding.

Guo et al. 2024, Sec. 3.2, eq. 7-8 ("train" round function of bytedance/decoupleQ): with (s, z) fixed,
relax the codes to the box [0, 2^b - 1] (sign-magnitude box when symmetric), run Adam on
tr((W_hat - W) H (W_hat - W)^T) projecting after each step, then fix the codes a block of columns at a
time (nearest integer), running a few more projected steps on the still-free columns after each block.
We work in code units, so one learning rate fits every layer's weight scale.
"""
from __future__ import annotations

import torch

from ml.quantize.grid import expand_groups


def pgd_round(W, H, scales, zeros, bits, g, symmetric, steps=50, inner_steps=5, round_block=16, lr=0.02):
    out, n = W.shape
    S, Z = expand_groups(scales, g, n).double(), expand_groups(zeros, g, n).double()
    half = 2 ** (bits - 1) - 1
    lo, hi = (Z - half, Z + half) if symmetric else (torch.zeros_like(Z), torch.full_like(Z, 2 ** bits - 1))
    Wd, Hd = W.double(), H.double()
    u = ((Wd / S.where(S.abs() > 1e-30, torch.full_like(S, 1e-30))) + Z).clamp(lo, hi).requires_grad_(True)
    free = torch.ones(n, dtype=torch.bool)
    opt = torch.optim.Adam([u], lr=lr)

    def pgd(k):
        for _ in range(k):
            E = (u - Z) * S - Wd
            grad = 2.0 * (E @ Hd) * S  # d/du of tr(E H E^T)
            u.grad = grad * free[None, :]
            opt.step()
            with torch.no_grad():
                u.clamp_(lo, hi)

    pgd(steps)
    order = torch.argsort(torch.diag(Hd), descending=True)  # fix the most influential columns first
    for b0 in range(0, n, round_block):
        cols = order[b0:b0 + round_block]
        with torch.no_grad():
            u[:, cols] = torch.round(u[:, cols]).clamp(lo[:, cols], hi[:, cols])
        free[cols] = False
        if free.any():
            pgd(inner_steps)
    return torch.round(u.detach()).to(torch.uint8)
