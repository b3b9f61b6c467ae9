"""GPTQ: column-by-column quantization with optimal-brain-surgeon error feedback.

Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers", ICLR 2023, Algorithm 1: one column order for all rows, lazy batch
updates of B columns, and the rows of the upper Cholesky factor of the damped H^-1 as the OBS
update directions. Act-order (desc_act) processes columns by decreasing diag(H); we then use
static groups (each group's grid fixed from the original weights before the loop), so groups
stay contiguous and no g_idx has to be stored.
"""
from __future__ import annotations

import torch

from ml.quantize.grid import QuantizedWeight, minmax_params, quantize_codes, resolve_group_size
from ml.quantize.hessian import damp


def quantize_gptq(weight, H, bits, group_size=-1, symmetric=False, act_order=False, block_size=128,
                  percdamp=0.01, grid=None, power=1.0, method="gptq") -> QuantizedWeight:
    """`grid` = (scales, zeros) [out, n_groups] fixes the grid (decoupleQ's integer step); else min-max per group.

    `power` != 1 runs the same error feedback through NUPES's power quantizer (symmetric grid on sign(w)|w|^a).
    """
    if power != 1.0:
        symmetric = True
    fwd = (lambda w: torch.sign(w) * w.abs().pow(power)) if power != 1.0 else (lambda w: w)  # noqa: E731
    inv = (lambda v: torch.sign(v) * v.abs().pow(1.0 / power)) if power != 1.0 else (lambda v: v)  # noqa: E731
    out, n = weight.shape
    g = resolve_group_size(group_size, n)
    W = weight.detach().float().clone()
    W[:, torch.diag(H) == 0] = 0.0  # a never-active input: its weight cannot matter, quantize it to 0
    H = damp(H, percdamp)
    if grid is not None:
        scales, zeros = grid[0].float().clone(), grid[1].float().clone()
        fixed = True
    else:
        scales = torch.zeros(out, n // g)
        zeros = torch.zeros(out, n // g)
        fixed = act_order
        if act_order:  # static groups: with a permuted order a group's first column is not reached first
            scales, zeros = minmax_params(fwd(W).reshape(out, n // g, g), bits, symmetric)
    perm = torch.argsort(torch.diag(H), descending=True) if act_order else torch.arange(n)
    W, H = W[:, perm], H[perm][:, perm]
    # Cholesky reformulation (Sec. 3, step 3): rows of chol(H^-1)^T give the update of every later column
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True).float()
    Q = torch.zeros_like(W)
    for i1 in range(0, n, block_size):
        i2 = min(i1 + block_size, n)
        W1, Err1, Hinv1 = W[:, i1:i2].clone(), torch.zeros(out, i2 - i1), Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = int(perm[i1 + i])
            gi = col // g
            if not fixed and col % g == 0:  # the group's grid from the already-updated weights
                cols = torch.cat([W1[:, i:], W[:, i2:]], 1)[:, :g]
                scales[:, gi], zeros[:, gi] = minmax_params(fwd(cols), bits, symmetric)
            w, d = W1[:, i], Hinv1[i, i]
            q = quantize_codes(fwd(w), scales[:, gi], zeros[:, gi], bits, symmetric)
            Q[:, i1 + i] = q
            err = (w - inv((q - zeros[:, gi]) * scales[:, gi])) / d
            W1[:, i:] -= err[:, None] * Hinv1[i, i:][None, :]
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]  # lazy batch update (Sec. 3, step 2)
    codes = torch.empty_like(Q)
    codes[:, perm] = Q
    return QuantizedWeight(codes.to(torch.uint8), scales, zeros, bits, g, symmetric, power=power, method=method)
