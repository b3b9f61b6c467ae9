import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ml.modelio import load_model, save_model
from ml.quantize import quantize_weight
from ml.quantize.model import layer_inputs_2d
from ml.quantize.packed import QuantConv1d, QuantLinear, formula_bits, set_module


def test_quant_linear_runs_the_packed_weight_exactly():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 24)
    qw = quantize_weight(lin.weight, None, "rtn", 3, 32).to_storage_precision()
    ql = QuantLinear.from_quantized(qw, lin.bias)
    x = torch.randn(5, 64)
    # fp16 scales/zeros are what the file holds; to_storage_precision applies the same rounding
    assert torch.equal(ql(x), F.linear(x, qw.dequantize(), lin.bias))
    assert ql.nbytes == qw.nbytes == 4 * (64 * 24 * 3 // 32) + 2 * 2 * 24 * 2


def test_int8_matmul_path_matches_dequantized_path():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 32)
    qw = quantize_weight(lin.weight, None, "rtn", 8, -1, symmetric=True)
    fast = QuantLinear.from_quantized(qw, lin.bias, int8_matmul=True)
    slow = QuantLinear.from_quantized(qw, lin.bias)
    assert fast.int8_matmul
    x = torch.randn(40, 64)
    y_fast, y_slow = fast(x), slow(x)
    # only the activations are rounded (per-token int8): relative error ~ 1/127 / sqrt(3) per entry, averaged down
    assert (y_fast - y_slow).norm() / y_slow.norm() < 1e-2
    assert not torch.equal(y_fast, y_slow)  # it really took the integer path


def test_conv1d_is_the_linear_map_of_its_unfolded_input():
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(5, 8, 7, padding=6, dilation=2)
    x = torch.randn(3, 5, 40)
    cols = layer_inputs_2d(conv, x)  # [3 * L', 5 * 7]
    y = (cols @ conv.weight.reshape(8, -1).T + conv.bias).reshape(3, -1, 8).transpose(1, 2)
    assert torch.allclose(y, conv(x), atol=1e-5)  # fp32 summation order only
    qw = quantize_weight(conv.weight.reshape(8, -1), cols, "gptq", 4, -1).to_storage_precision()
    qc = QuantConv1d.from_conv(conv, qw)
    ref = F.conv1d(x, qw.dequantize().reshape(8, 5, 7), conv.bias, 1, 6, 2)
    assert torch.equal(qc(x), ref)


@pytest.mark.parametrize("symmetric", [False, True])
def test_saved_quantized_model_reloads_with_same_outputs_and_formula_size(tmp_path, symmetric):
    torch.manual_seed(0)
    from ml import nets
    model = nets.build("digits_mlp", hidden=128).eval()
    specs = {}
    for name in ("0", "2"):
        lin = model.get_submodule(name)
        qw = quantize_weight(lin.weight, None, "rtn", 3, 32, symmetric=symmetric).to_storage_precision()
        set_module(model, name, QuantLinear.from_quantized(qw, lin.bias))
        specs[name] = model.get_submodule(name).spec()
    cfg = {"arch": "digits_mlp", "arch_kwargs": {"hidden": 128}, "quantization": {"method": "rtn", "layers": specs}}
    save_model(tmp_path, model, cfg)
    loaded, lcfg = load_model(tmp_path)
    x = torch.randn(9, 64)
    assert torch.equal(loaded(x), model(x))
    state = load_file(str(tmp_path / "model.safetensors"))
    q_bytes = sum(state[f"{n}.{k}"].numel() * state[f"{n}.{k}"].element_size()
                  for n in specs for k in ("qweight", "scales", "zeros") if f"{n}.{k}" in state)
    n_weights = 128 * 64 + 128 * 128
    # 3 * n is a multiple of 32 here, so the packed size equals b + 16/g (+16/g for zeros) bits per weight exactly
    assert q_bytes * 8 == n_weights * formula_bits(3, 32, symmetric)
    # the file adds only a JSON header to the tensors
    tensor_bytes = sum(t.numel() * t.element_size() for t in state.values())
    assert tensor_bytes < (tmp_path / "model.safetensors").stat().st_size < tensor_bytes + 4096
