import pytest
import torch

from ml.quantize import quantize_weight
from ml.quantize.rtn import quantize_rtn


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("group_size", [32, -1])
def test_rtn_equals_torchao_intx_weight_only_bit_for_bit(bits, group_size):
    torchao = pytest.importorskip("torchao")
    from torchao.quantization import IntxWeightOnlyConfig, MappingType, PerAxis, PerGroup, quantize_

    torch.manual_seed(bits)
    lin = torch.nn.Linear(128, 48, bias=False)
    W = lin.weight.detach().clone()
    gran = PerGroup(group_size) if group_size > 0 else PerAxis(0)
    quantize_(lin, IntxWeightOnlyConfig(weight_dtype=getattr(torch, f"int{bits}"), granularity=gran,
                                        mapping_type=MappingType.ASYMMETRIC))
    ref = lin.weight.dequantize()
    ours = quantize_weight(W, None, "rtn", bits, group_size).dequantize()
    # same operations in the same order (choose_qparams_affine ASYMMETRIC, round(w * (1/s)) + z): exact equality
    assert torch.equal(ours, ref)
    assert torchao is not None


def test_rtn_codes_are_in_range_and_error_is_within_half_a_step():
    torch.manual_seed(0)
    W = torch.randn(16, 64)
    for symmetric in (False, True):
        qw = quantize_rtn(W, 3, 16, symmetric)
        assert int(qw.codes.max()) <= 7 and qw.codes.dtype == torch.uint8
        step = qw.scales.repeat_interleave(16, 1)
        # every weight lies inside its group's range, so nearest rounding errs by at most half a step (+ fp32 ulp)
        assert ((W - qw.dequantize()).abs() <= step / 2 * (1 + 1e-5)).all()


def test_symmetric_rtn_uses_sign_magnitude_levels():
    W = torch.tensor([[-1.0, -0.5, 0.0, 0.2, 0.5, 1.0, 0.74, -0.76]])
    qw = quantize_rtn(W, 2, -1, symmetric=True)
    # 2-bit sign-magnitude is ternary {-s, 0, s} with s = max|w|
    assert set(qw.dequantize().flatten().tolist()) <= {-1.0, 0.0, 1.0}
    assert qw.nbytes == 4 + 2  # one int32 word of codes + one fp16 scale, no zero
