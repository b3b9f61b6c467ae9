import pytest
import torch

from ml.quantize.decoupleq import float_step, nearest, quantize_decoupleq, range_grid
from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import dequantize
from ml.quantize.hessian import damp, hessian, row_loss
from ml.quantize.pgd_round import pgd_round
from ml.quantize.rtn import quantize_rtn


@pytest.mark.parametrize("round_fn", ["gptq", "train"])
def test_decoupleq_objective_never_exceeds_its_initialisation(correlated, round_fn):
    W, X = correlated
    H = hessian(X)
    qw = quantize_decoupleq(W, H, 2, 32, round_fn=round_fn, max_iter=3)
    # rows only accept improvements, so the recorded objective is non-increasing round after round
    assert all(b <= a for a, b in zip(qw.history, qw.history[1:]))
    Hd = damp(H)
    s, z = range_grid(W.float(), 2, 32, False)
    gptq = quantize_gptq(W, Hd, 2, 32, act_order=True, grid=(s, z))
    init = torch.minimum(row_loss(W, dequantize(nearest(W, s, z, 2, 32, False), s, z, 32), Hd),
                         row_loss(W, gptq.dequantize(), Hd))  # round 1 keeps the better of RTN and GPTQ per row
    final = row_loss(W, qw.dequantize(), Hd)
    # the solver judges rows at fp16 storage precision, the init here is exact: 1e-3 covers fp16 rounding
    assert (final <= init * (1 + 1e-3)).all()
    assert qw.history[-1] < 0.9 * qw.history[0]  # and the alternation does improve on GPTQ (measured ~0.6x)


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


def test_pgd_round_with_identity_hessian_is_nearest_rounding(correlated):
    W, _ = correlated
    s, z = range_grid(W, 2, 32, False)
    s, z = s * 0.7, z + 0.3  # a clipped, shifted grid, so the box projection and the float zero both matter
    codes = pgd_round(W, torch.eye(128, dtype=torch.float64), s, z, 2, 32, False, steps=20, inner_steps=5)
    # H = I: the relaxed optimum is the projected fp weight itself (zero gradient, Adam never moves it) and no
    # column couples to another, so rounding it column by column is plain nearest rounding on the grid
    assert torch.equal(codes.float(), nearest(W, s, z, 2, 32, False))


@pytest.mark.parametrize("bits,factor", [(2, 0.9), (3, 0.98)])
def test_pgd_integer_step_beats_gptq_rounding_on_correlated_inputs(correlated, bits, factor):
    W, X = correlated
    H = hessian(X)
    loss = {rf: quantize_decoupleq(W, H, bits, 32, round_fn=rf).history[-1] for rf in ("gptq", "train")}
    # the first-level approximation (eq. 7-8) optimises the relaxed objective before rounding: measured 0.78x
    # (W2) and 0.93x (W3) of the GPTQ-rounding variant's objective on this deterministic fixture
    assert loss["train"] < factor * loss["gptq"], loss
