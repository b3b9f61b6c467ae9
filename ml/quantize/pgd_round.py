"""decoupleQ's first-level integer step: projected gradient descent on the relaxed problem, then rounding.

Guo et al. 2024, Sec. 3.2, eq. 7-8 (the "train" round function of bytedance/decoupleQ, `opt_intW3` and
`round_train`): with (s, z) fixed, relax the codes to the box [0, 2^b - 1] (the sign-magnitude box when
symmetric) and run Adam on tr((W_hat - W) H (W_hat - W)^T), projecting onto the box after every step; then
fix the columns one at a time in act-order (nearest integer), each time running `inner_steps` more
projected Adam steps on the still-free columns, whose moment estimates carry on (a fixed column never
moves again). We work in code units, so one learning rate fits every layer's weight scale: the repo's
1e-3 on weights of Llama/ResNet scale is about 0.01-0.02 code units per step.
"""
from __future__ import annotations

import torch

from ml.quantize.grid import expand_groups


def pgd_round(W, H, scales, zeros, bits, g, symmetric, steps=50, inner_steps=5, round_block=1, lr=0.02,
              act_order=True, betas=(0.9, 0.999), eps=1e-8):
    out, n = W.shape
    perm = torch.argsort(torch.diag(H), descending=True) if act_order else torch.arange(n)
    S = expand_groups(scales, g, n).double()[:, perm]
    Z = expand_groups(zeros, g, n).double()[:, perm]
    Wd, Hd = W.double()[:, perm], H.double()[perm][:, perm]
    half = 2 ** (bits - 1) - 1
    lo, hi = (Z - half, Z + half) if symmetric else (torch.zeros_like(Z), torch.full_like(Z, 2 ** bits - 1))
    u = (Wd / S.where(S.abs() > 1e-30, torch.full_like(S, 1e-30)) + Z).clamp(lo, hi)  # the fp weights, projected
    m, v = torch.zeros_like(u), torch.zeros_like(u)
    t = 0

    def adam(k, f):
        """k projected Adam steps on the free columns f: (a suffix in act-order)."""
        nonlocal t
        for _ in range(k):
            t += 1
            grad = 2.0 * (((u - Z) * S - Wd) @ Hd[:, f:]) * S[:, f:]  # d/du of tr(E H E^T), free columns only
            m[:, f:].lerp_(grad, 1 - betas[0])
            v[:, f:].mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
            step = lr / (1 - betas[0] ** t)
            denom = (v[:, f:] / (1 - betas[1] ** t)).sqrt_().add_(eps)
            u[:, f:] = torch.minimum(torch.maximum(u[:, f:] - step * m[:, f:] / denom, lo[:, f:]), hi[:, f:])

    adam(steps, 0)
    for c0 in range(0, n, round_block):
        c1 = min(c0 + round_block, n)
        u[:, c0:c1] = torch.round(u[:, c0:c1]).clamp(lo[:, c0:c1], hi[:, c0:c1])
        if c1 < n:
            adam(inner_steps, c1)
    codes = torch.empty_like(u)
    codes[:, perm] = torch.round(u)
    return codes.to(torch.uint8)
