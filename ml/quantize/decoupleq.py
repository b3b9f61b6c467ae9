"""decoupleQ: quantization as constrained least squares with the integer and float parts decoupled.

Guo et al., "decoupleQ: Towards 2-bit Post-Training Uniform Quantization via decoupling Parameters
into Integer and Floating Points", arXiv 2404.12759 (code: bytedance/decoupleQ). Per layer it solves

    min_{Q, s, c}  tr((W - W_hat) H (W - W_hat)^T),   W_hat = s * Q + c,  Q integer in [alpha, beta]   (eq. 3)

by alternation (Sec. 3.2): the integer step with (s, c) fixed (either projected gradient descent on the
box-relaxed problem then rounding, eq. 7-8, or GPTQ's sequential rounding on the fixed grid), then the
float step with Q fixed, an unconstrained quadratic solved in closed form (eq. 9). The grid starts at a
min-max range shrunk to the lowest H-weighted error, round 1 is GPTQ on it, and a row's new solution
is kept only if its objective drops, so the result never exceeds its initialisation.
The block-wise second stage (Sec. 3.3) lives in `ml/quantize/block_stage.py`.
"""
from __future__ import annotations

import torch

from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import QuantizedWeight, dequantize, minmax_params, quantize_codes, resolve_group_size
from ml.quantize.hessian import damp, row_loss
from ml.quantize.pgd_round import pgd_round


def init_grid(W, H, bits, g, symmetric, n_grid=100, max_shrink=0.8):
    """Min-max grid shrunk by the factor in [1 - max_shrink, 1] with the lowest H_gg-weighted error per group."""
    out, n = W.shape
    G = n // g
    Wg = W.reshape(out, G, g)
    Hg = torch.stack([H[k * g:(k + 1) * g, k * g:(k + 1) * g] for k in range(G)]).float()  # diagonal blocks
    best = torch.full((out, G), float("inf"))
    scales, zeros = minmax_params(Wg, bits, symmetric)
    for p in torch.linspace(1.0, 1.0 - max_shrink, n_grid).tolist():
        s, z = minmax_params(Wg, bits, symmetric, shrink=p)
        q = quantize_codes(Wg, s[..., None], z[..., None], bits, symmetric)
        E = Wg - (q - z[..., None]) * s[..., None]
        err = torch.einsum("ogi,gij,ogj->og", E, Hg, E)
        better = err < best
        best = torch.where(better, err, best)
        scales, zeros = torch.where(better, s, scales), torch.where(better, z, zeros)
    return scales, zeros


def float_step(W, H, codes, g, symmetric, zero_sym, chunk=16):
    """Closed-form (s, c) per row for fixed integers (eq. 9): P theta = y with P = M H M^T, y = M H w.

    M stacks the row's codes masked per group (the s part) and the group indicators (the c part); the
    sums are taken blockwise, so a row costs O(in^2), not O(G in^2). Returns scales and zeros (z = -c/s).
    """
    out, n = W.shape
    G = n // g
    Hw = (W.double() @ H)  # [out, n] = (H w_r) per row, H symmetric
    Hcc = H.reshape(G, g, G, g).sum((1, 3))
    scales, offsets = torch.empty(out, G, dtype=torch.float64), torch.empty(out, G, dtype=torch.float64)
    for r0 in range(0, out, chunk):
        q = codes[r0:r0 + chunk].double() - (zero_sym if symmetric else 0.0)
        c = q.shape[0]
        QH = (q[:, :, None] * H[None]).reshape(c, G, g, n).sum(2)  # (q * E_g) H, [c, G, n]
        Pss = (QH.reshape(c, G, G, g) * q.reshape(c, 1, G, g)).sum(-1)
        ys = (QH * W[r0:r0 + chunk].double()[:, None, :]).sum(-1)
        if symmetric:
            P, y = Pss, ys
        else:
            Psc = QH.reshape(c, G, G, g).sum(-1)
            P = torch.cat([torch.cat([Pss, Psc], 2), torch.cat([Psc.transpose(1, 2), Hcc.expand(c, G, G)], 2)], 1)
            y = torch.cat([ys, Hw[r0:r0 + chunk].reshape(c, G, g).sum(-1)], 1)
        # a group whose codes are all equal makes s and c collinear: a tiny ridge keeps the solve defined
        ridge = 1e-9 * P.diagonal(dim1=1, dim2=2).mean(1).clamp(min=1e-30)
        theta = torch.linalg.solve(P + ridge[:, None, None] * torch.eye(P.shape[1], dtype=P.dtype), y)
        scales[r0:r0 + chunk] = theta[:, :G]
        offsets[r0:r0 + chunk] = 0.0 if symmetric else theta[:, G:]
    if symmetric:
        zeros = torch.full((out, G), float(zero_sym), dtype=torch.float64)
    else:
        safe = torch.where(scales.abs() < 1e-30, torch.full_like(scales, 1e-30), scales)
        zeros = -offsets / safe
    return scales.float(), zeros.float()


def quantize_decoupleq(weight, H, bits, group_size=-1, symmetric=False, max_iter=4, round_fn="gptq",
                       act_order=True, n_grid=100, max_shrink=0.8, pgd_steps=50, inner_steps=5, round_block=16,
                       lr=0.02, percdamp=0.01) -> QuantizedWeight:
    out, n = weight.shape
    g = resolve_group_size(group_size, n)
    W = weight.detach().float()
    Hd = damp(H, percdamp)  # the repo adds 1% of mean(diag H) to H for the whole solve
    zero_sym = float(2 ** (bits - 1))

    def loss_of(codes, s, z):
        # judged at storage precision (fp16 scales/zeros), so the packed model is the one we optimised
        return row_loss(W, dequantize(codes, s.half().float(), z.half().float(), g), Hd)

    s, z = init_grid(W, Hd, bits, g, symmetric, n_grid, max_shrink)
    qw = quantize_gptq(W, Hd, bits, g, symmetric, act_order=act_order, grid=(s, z), percdamp=0.0)
    codes, best = qw.codes, loss_of(qw.codes, s, z)  # outer round 1 is GPTQ on the searched grid
    history = [float(best.sum())]
    for _ in range(1, max_iter):
        s_new, z_new = float_step(W, Hd, codes, g, symmetric, zero_sym)
        if round_fn == "gptq":
            c_new = quantize_gptq(W, Hd, bits, g, symmetric, act_order=act_order, grid=(s_new, z_new), percdamp=0.0).codes
        else:
            c_new = pgd_round(W, Hd, s_new, z_new, bits, g, symmetric, pgd_steps, inner_steps, round_block, lr)
        s_new, z_new = float_step(W, Hd, c_new, g, symmetric, zero_sym)
        loss = loss_of(c_new, s_new, z_new)
        ok = torch.isfinite(loss) & (loss < best) & (s_new.abs().amax(1) < 6e4) & (z_new.abs().amax(1) < 6e4)
        codes = torch.where(ok[:, None], c_new, codes)
        s, z = torch.where(ok[:, None], s_new, s), torch.where(ok[:, None], z_new, z)
        best = torch.where(ok, loss, best)
        history.append(float(best.sum()))
        if ok.float().mean() < 1e-4:  # the repo stops when fewer than 0.01 % of rows improve
            break
    qw = QuantizedWeight(codes, s.half().float(), z.half().float(), bits, g, symmetric, method="decoupleq")
    qw.history = history
    return qw
