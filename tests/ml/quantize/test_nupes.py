import torch

from ml.quantize.gptq import quantize_gptq
from ml.quantize.hessian import hessian, row_loss
from ml.quantize.nupes import power_quantize, quantize_nupes
from ml.quantize.rtn import quantize_rtn


def test_nupes_with_exponent_one_equals_symmetric_rtn():
    torch.manual_seed(0)
    W = torch.randn(32, 64)
    for bits in (3, 4):
        n = quantize_nupes(W, None, bits, 16, power=1.0, steps=0)
        r = quantize_rtn(W, bits, 16, symmetric=True)
        # |w|^1 = |w| and the same max/round/clamp: identical codes and scales (dequant equal to fp32 rounding of pow)
        assert torch.equal(n.codes, r.codes) and torch.allclose(n.scales, r.scales, rtol=1e-6)
        assert torch.allclose(n.dequantize(), r.dequantize(), rtol=1e-6, atol=1e-7)


def test_power_quantizer_puts_more_levels_near_zero():
    w = torch.linspace(-1, 1, 201).reshape(1, -1)
    levels = lambda a: torch.unique(power_quantize(w, torch.tensor(a), 4, 201)[0])  # noqa: E731
    inner = lambda lv: int((lv.abs() < 0.25).sum())  # noqa: E731
    assert inner(levels(0.5)) > inner(levels(1.0))


def test_learned_nupes_beats_power_rtn_and_symmetric_gptq(correlated):
    W, X = correlated
    H = hessian(X)
    power_rtn = row_loss(W, quantize_nupes(W, H, 4, 32, steps=0).dequantize(), H).sum()
    learned = quantize_nupes(W, H, 4, 32, steps=20)
    loss = row_loss(W, learned.dequantize(), H).sum()
    gptq_sym = row_loss(W, quantize_gptq(W, H, 4, 32, symmetric=True, act_order=True).dequantize(), H).sum()
    # measured: 30.4 vs 73.5 (power-RTN) and 34.9 (symmetric GPTQ); the margins leave room for other seeds
    assert loss < 0.6 * power_rtn
    assert loss < gptq_sym
    assert 0.2 <= learned.power <= 1.5
