"""NUPES: non-uniform post-training quantization by power exponent search.

Yvinec, Dapogny, Bailly, arXiv 2308.05600 (TPAMI 2025), building on PowerQuant (ICLR 2023). The
quantizer maps w to u = sign(w)|w|^a (an automorphism of (R*+, x), so products stay products), quantizes
u uniformly and symmetrically, s = max|u| / (2^(b-1) - 1), q = round(u / s), and maps back with
w_hat = sign(q) (|q| s)^(1/a). a = 1 is symmetric uniform; a < 1 puts more levels near 0.
Beyond PowerQuant's search for a, NUPES learns (i) the weights over the whole quantized space, not
just up/down rounding, and (ii) the exponent a itself, by gradient descent with a straight-through
estimator; we tame the instabilities it mentions (d|w|^a/da = |w|^a log|w| blows up at 0, and
|v|^(1/a) has an infinite slope at 0 for a > 1) by clamping |w| away from 0 and masking zero levels.
Our start: for each a of a small grid, GPTQ's error feedback under the power quantizer; the best a and
its solution seed the gradient stage, which also learns the scales, and keeps its best iterate (so it is
never worse than its start). Sign-magnitude codes have 2^b - 1 levels, so W2 is ternary.
"""
from __future__ import annotations

import torch

from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import QuantizedWeight, resolve_group_size
from ml.quantize.hessian import row_loss

TINY = 1e-12


def _round_ste(x):
    return x + (torch.round(x) - x).detach()


def power_quantize(W, a, bits, g, s=None):
    """Fake-quantize with exponent a (differentiable in W, a and s via STE); returns (W_hat, q, s).

    s [out, n_groups] defaults to max|u| / (2^(b-1) - 1) per group.
    """
    out, n = W.shape
    half = 2 ** (bits - 1) - 1
    u = torch.sign(W) * W.abs().clamp(min=TINY).pow(a)
    ug = u.reshape(out, n // g, g)
    if s is None:
        s = (ug.abs().amax(-1) / half).clamp(min=TINY)
    q = torch.clamp(_round_ste(ug / s[..., None]), -half, half)
    v = (q * s[..., None]).reshape(out, n)
    nz = v != 0
    mag = torch.where(nz, v.abs(), torch.ones_like(v)).pow(1.0 / a)
    return torch.where(nz, torch.sign(v) * mag, torch.zeros_like(v)), q.reshape(out, n), s


def quantize_nupes(weight, H, bits, group_size=-1, power=None, steps=200, lr=0.003,
                   grid=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0), gptq_init=True) -> QuantizedWeight:
    """`power` fixes a; `H=None` is the data-free mode (H = I); `gptq_init=False` starts from power-RTN."""
    out, n = weight.shape
    g = resolve_group_size(group_size, n)
    W = weight.detach().float()
    H = torch.eye(n) if H is None else H.float()
    zero = float(2 ** (bits - 1))

    def start(a):
        if gptq_init and steps > 0:
            qw = quantize_gptq(W, H.double(), bits, g, True, act_order=True, power=a)
            return qw.dequantize(), qw.scales
        w_hat, _, s = power_quantize(W, torch.tensor(a), bits, g)
        return w_hat, s

    def loss(W_hat):
        return row_loss(W, W_hat, H).sum()

    cands = [float(power)] if power is not None else list(grid)
    a0, (w0, s0) = min(((a, start(a)) for a in cands), key=lambda c: float(loss(c[1][0])))
    a = torch.tensor(a0, requires_grad=power is None)
    unit = W.abs().mean().clamp(min=TINY)  # latent weights move in units of their own magnitude
    delta = torch.zeros_like(W, requires_grad=True)
    log_s = torch.zeros_like(s0, requires_grad=True)
    opt = torch.optim.Adam([delta, log_s] + ([a] if power is None else []), lr=lr)
    norm = loss(torch.zeros_like(W)).clamp(min=TINY)
    best_loss, best = float("inf"), None
    for step in range(steps + 1):
        W_lat, s = w0 + unit * delta, s0 * log_s.exp()
        l = loss(power_quantize(W_lat, a, bits, g, s)[0]) / norm
        if float(l.detach()) < best_loss:  # the iterate before this step; step 0 is the start itself
            best_loss, best = float(l.detach()), (W_lat.detach().clone(), float(a.detach()), s.detach().clone())
        if step == steps:
            break
        opt.zero_grad()
        l.backward()
        opt.step()
        with torch.no_grad():
            a.clamp_(0.2, 1.5)
    W_best, a_best, s_best = best
    with torch.no_grad():
        _, q, s = power_quantize(W_best, torch.tensor(a_best), bits, g, s_best)
    codes = (q + zero).round().to(torch.uint8)
    return QuantizedWeight(codes, s.float(), torch.full_like(s, zero).float(), bits, g, True, power=a_best,
                           method="nupes")
