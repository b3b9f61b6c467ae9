import pytest
import torch

from ml.quantize.decoupleq import float_step, init_grid, quantize_decoupleq
from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import dequantize
from ml.quantize.hessian import damp, hessian, row_loss
from ml.quantize.rtn import quantize_rtn


@pytest.mark.parametrize("round_fn", ["gptq", "train"])
def test_decoupleq_objective_never_exceeds_its_initialisation(correlated, round_fn):
    W, X = correlated
    H = hessian(X)
    qw = quantize_decoupleq(W, H, 2, 32, round_fn=round_fn, max_iter=3)
    # rows only accept improvements, so the recorded objective is non-increasing round after round
    assert all(b <= a for a, b in zip(qw.history, qw.history[1:]))
    Hd = damp(H)
    s, z = init_grid(W.float(), Hd, 2, 32, False)
    init = quantize_gptq(W, Hd, 2, 32, act_order=True, grid=(s.half().float(), z.half().float()), percdamp=0.0)
    final = row_loss(W, qw.dequantize(), Hd).sum()
    # init is recomputed with the fp16-rounded grid; both sides carry fp16 rounding, hence the 1e-3 slack
    assert final <= row_loss(W, init.dequantize(), Hd).sum() * (1 + 1e-3)


def test_float_step_is_the_least_squares_optimum(correlated):
    W, X = correlated
    H = damp(hessian(X))
    codes = quantize_rtn(W, 3, 32).codes
    s, z = float_step(W, H, codes, 32, False, 4.0)
    best = row_loss(W, dequantize(codes, s, z, 32), H)
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        # any perturbation of (s, z) must not lower a convex quadratic at its minimiser (fp32 slack 1e-5)
        s2 = s * (1 + 1e-3 * torch.randn(s.shape, generator=g))
        z2 = z + 1e-3 * torch.randn(z.shape, generator=g)
        assert (row_loss(W, dequantize(codes, s2, z2, 32), H) >= best * (1 - 1e-5)).all()


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_layer_objective_orders_rtn_gptq_decoupleq(correlated, bits):
    W, X = correlated
    H = hessian(X)
    loss = {m: float(row_loss(W, fn().dequantize(), H).sum()) for m, fn in {
        "rtn": lambda: quantize_rtn(W, bits, 32),
        "gptq": lambda: quantize_gptq(W, H, bits, 32),
        "decoupleq": lambda: quantize_decoupleq(W, H, bits, 32),
    }.items()}
    assert loss["rtn"] > loss["gptq"] > loss["decoupleq"], loss


def test_symmetric_decoupleq_keeps_the_fixed_zero(correlated):
    W, X = correlated
    qw = quantize_decoupleq(W, hessian(X), 3, 32, symmetric=True, max_iter=2)
    assert torch.all(qw.zeros == 4.0)
    assert int(qw.codes.min()) >= 1  # sign-magnitude: code 0 (= -4 s) is never used
