import torch
from torch import nn

from ml.quantize.model import collect_hessian, layers_in_forward_order, quantize_model
from ml.quantize.packed import QuantLinear


class Reordered(nn.Module):
    """Registered b, a but called a then b: the quantization order must follow the forward."""

    def __init__(self):
        super().__init__()
        self.b = nn.Linear(32, 8)
        self.a = nn.Linear(16, 32)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def test_layers_are_quantized_in_forward_order_with_skips():
    torch.manual_seed(0)
    calib = [(torch.randn(20, 16),)]
    assert layers_in_forward_order(Reordered(), calib) == ["a", "b"]
    assert layers_in_forward_order(Reordered(), calib, skip=["b"]) == ["a"]


def test_later_layers_see_the_partially_quantized_model():
    torch.manual_seed(0)
    model = Reordered()
    calib = [(torch.randn(64, 16),)]
    rows = quantize_model(model, calib, "gptq", 2, -1)
    assert [r["name"] for r in rows] == ["a", "b"] and isinstance(model.b, QuantLinear)
    # b's statistics must come from the already quantized a: recompute them from a's quantized output
    h = torch.relu(model.a(calib[0][0])).double()
    assert torch.allclose(collect_hessian(model, model.b, calib), h.T @ h / 64)
    fp_h = torch.relu(Reordered().a(calib[0][0])).double()  # a differently initialised fp layer gives another H
    assert not torch.allclose(h.T @ h, fp_h.T @ fp_h)
