"""decoupleQ: quantization as constrained least squares with the integer and float parts decoupled.

Guo et al., "decoupleQ: Towards 2-bit Post-Training Uniform Quantization via decoupling Parameters
into Integer and Floating Points", arXiv 2404.12759 (code: bytedance/decoupleQ, `startquant`). Per layer

    min_{Q, s, c}  tr((W - W_hat) H (W - W_hat)^T),   W_hat = s * Q + c,  Q integer in [alpha, beta]   (eq. 3)

solved as the repo does it:
- round 0: nearest rounding on the min-max grid (exact range, float offset); round 1: GPTQ on that grid
  (the repo: "max_iter_num = 1 is GPTQ"), each row keeping the better of the two;
- rounds 2..max_iter alternate (Sec. 3.2) the integer step with (s, c) fixed (projected gradient descent on
  the box-relaxed problem then rounding, eq. 7-8, `pgd_round.py`; or GPTQ's rounding on the fixed grid) and
  the float step with Q fixed, an unconstrained quadratic in closed form (eq. 9). Round 2 starts from a fresh
  grid: the per-row shrunk min-max range with the lowest H-weighted error, refitted by the float step;
- each step's result is kept per row only where the objective drops (so the result never exceeds round 1),
  and the loop stops when fewer than 0.01 % of the rows improve.
The block-wise second stage (Sec. 3.3) lives in `ml/quantize/block_stage.py`.
"""
from __future__ import annotations

import torch

from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import EPS, QuantizedWeight, dequantize, minmax_params, quantize_codes, resolve_group_size
from ml.quantize.hessian import damp, row_loss
from ml.quantize.pgd_round import pgd_round


def range_grid(W, bits, g, symmetric, shrink=1.0):
    """The repo's min-max grid: scale = range / (2^b - 1) over the range widened to hold 0, and the zero that
    maps its minimum to code 0 exactly (a float, not torchao's rounded zero point). `shrink`: [out, 1] or float."""
    out, n = W.shape
    Wg = W.reshape(out, n // g, g)
    if symmetric:
        return minmax_params(Wg, bits, True, shrink)
    lo = Wg.amin(-1).clamp(max=0.0) * shrink
    hi = Wg.amax(-1).clamp(min=0.0) * shrink
    scale = ((hi - lo) / float(2 ** bits - 1)).clamp(min=EPS)
    return scale, -lo / scale


def nearest(W, s, z, bits, g, symmetric):
    n = W.shape[1]
    return quantize_codes(W, s.repeat_interleave(g, 1)[:, :n], z.repeat_interleave(g, 1)[:, :n], bits, symmetric)


def shrink_search(W, H, bits, g, symmetric, n_grid=200, max_shrink=0.8):
    """Per row, the factor p = 1, 1 - 1/n_grid, ... > 1 - max_shrink shrinking every group's range whose
    nearest-rounding error under the full H is lowest (the repo's `get_scale_and_zero`: 160 of 200 points)."""
    Hf = H.float()
    best = torch.full((W.shape[0],), float("inf"))
    scales, zeros = range_grid(W, bits, g, symmetric)
    for i in range(int(max_shrink * n_grid)):
        s, z = range_grid(W, bits, g, symmetric, 1.0 - i / n_grid)
        err = row_loss(W, dequantize(nearest(W, s, z, bits, g, symmetric), s, z, g), Hf)
        better = err < best
        best = torch.where(better, err, best)
        scales, zeros = torch.where(better[:, None], s, scales), torch.where(better[:, None], z, zeros)
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
                       act_order=True, n_grid=200, max_shrink=0.8, pgd_steps=50, inner_steps=5, round_block=1,
                       lr=0.02, percdamp=0.01) -> QuantizedWeight:
    out, n = weight.shape
    g = resolve_group_size(group_size, n)
    W = weight.detach().float()
    Hd = damp(H, percdamp)  # the repo adds 1% of mean(diag H) to H for the whole solve
    zero_sym = float(2 ** (bits - 1))

    def loss_of(codes, s, z):
        # judged at storage precision (fp16 scales/zeros), so the packed model is the one we optimised
        loss = row_loss(W, dequantize(codes, s.half().float(), z.half().float(), g), Hd)
        fits = (s.abs().amax(1) < 6e4) & (z.abs().amax(1) < 6e4)  # fp16 range
        return torch.where(torch.isfinite(loss) & fits, loss, torch.full_like(loss, float("inf")))

    def integer_step(s, z):
        if round_fn == "gptq":  # the repo's round_gptq damps the already damped H once more
            return quantize_gptq(W, Hd, bits, g, symmetric, act_order=act_order, grid=(s, z), percdamp=percdamp).codes
        return pgd_round(W, Hd, s, z, bits, g, symmetric, pgd_steps, inner_steps, round_block, lr, act_order)

    state = {}

    def keep_better(codes, s, z):
        """Rows whose objective drops take the new (codes, s, z); returns the fraction of rows that did."""
        loss = loss_of(codes, s, z)
        ok = loss < state["best"] if state else torch.ones(out, dtype=torch.bool)
        for k, v in (("codes", codes), ("s", s), ("z", z)):
            state[k] = torch.where(ok[:, None], v, state[k]) if k in state else v
        state["best"] = torch.where(ok, loss, state["best"]) if "best" in state else loss
        return float(ok.float().mean())

    s, z = range_grid(W, bits, g, symmetric)
    keep_better(nearest(W, s, z, bits, g, symmetric), s, z)
    if max_iter >= 1:
        keep_better(quantize_gptq(W, Hd, bits, g, symmetric, act_order=act_order, grid=(s, z),
                                  percdamp=percdamp).codes, s, z)
    history = [float(state["best"].sum())]
    for it in range(max_iter - 1):
        if it == 0 and n_grid > 0:
            s, z = shrink_search(W, Hd, bits, g, symmetric, n_grid, max_shrink)
            s, z = float_step(W, Hd, nearest(W, s, z, bits, g, symmetric), g, symmetric, zero_sym)
        else:
            s, z = state["s"], state["z"]
        if keep_better(integer_step(s, z), s, z) < 1e-4:  # the repo stops when fewer than 0.01 % of rows improve
            history.append(float(state["best"].sum()))
            break
        s, z = float_step(W, Hd, state["codes"], g, symmetric, zero_sym)
        rate = keep_better(state["codes"], s, z)
        history.append(float(state["best"].sum()))
        if rate < 1e-4:
            break
    qw = QuantizedWeight(state["codes"].to(torch.uint8), state["s"].half().float(), state["z"].half().float(),
                         bits, g, symmetric, method="decoupleq")
    qw.history = history
    return qw
