"""Packed quantized layers and their files.

`QuantLinear` (and `QuantConv1d`) hold a layer as it is stored: b-bit codes bit-packed into int32 words,
fp16 scales, fp16 zeros (absent when symmetric), a fp32 NUPES exponent when non-uniform, the fp32 bias.
The weight is dequantized on the fly in each forward. 8-bit symmetric per-channel layers can instead run
an int8 x int8 -> int32 matmul (`torch._int_mm`) with activations quantized per token at run time.
A quantized model is an ordinary `ml.modelio` folder: its state dict holds these buffers and its
model.json a "quantization" entry with one spec per replaced layer; `load_quantized` rebuilds the
architecture, swaps the layers in and loads the tensors (safetensors only, nothing unpickled).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ml import nets
from ml.quantize.grid import QuantizedWeight, dequantize
from ml.quantize.packing import pack, packed_words, unpack


class QuantLinear(nn.Module):
    def __init__(self, in_features, out_features, bits, group_size, symmetric=False, power=False, bias=True,
                 int8_matmul=False):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size, self.symmetric = bits, group_size, symmetric
        self.int8_matmul = int8_matmul and bits == 8 and symmetric and group_size == self.n_cols and not power
        G = self.n_cols // group_size
        self.register_buffer("qweight", torch.zeros(packed_words(out_features * self.n_cols, bits), dtype=torch.int32))
        self.register_buffer("scales", torch.zeros(out_features, G, dtype=torch.float16))
        self.register_buffer("zeros", None if symmetric else torch.zeros(out_features, G, dtype=torch.float16))
        self.register_buffer("power", torch.ones(()) if power else None)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.trainable = None  # fp32 (scales, zeros) Parameters while decoupleQ's block stage tunes them

    @property
    def n_cols(self):
        return self.in_features

    def spec(self) -> dict:
        return {"type": "linear", "in_features": self.in_features, "out_features": self.out_features,
                "bits": self.bits, "group_size": self.group_size, "symmetric": self.symmetric,
                "power": self.power is not None, "bias": self.bias is not None, "int8_matmul": self.int8_matmul}

    @classmethod
    def from_quantized(cls, qw: QuantizedWeight, bias=None, **kw):
        m = cls(qw.shape[1], qw.shape[0], qw.bits, qw.group_size, qw.symmetric, qw.power != 1.0, bias is not None, **kw)
        m.load_quantized(qw, bias)
        return m

    def load_quantized(self, qw: QuantizedWeight, bias=None):
        self.qweight.copy_(pack(qw.codes, qw.bits))
        self.scales.copy_(qw.scales.half())
        if self.zeros is not None:
            self.zeros.copy_(qw.zeros.half())
        if self.power is not None:
            self.power.fill_(qw.power)
        if bias is not None:
            self.bias.data.copy_(bias.detach().float())

    def codes(self):
        return unpack(self.qweight, self.bits, (self.out_features, self.n_cols))

    def _scales_zeros(self):
        if self.trainable is not None:
            return self.trainable[0], self.trainable[1]
        z = self.zeros.float() if self.zeros is not None else torch.full_like(self.scales, 2.0 ** (self.bits - 1), dtype=torch.float32)
        return self.scales.float(), z

    def weight_2d(self):
        s, z = self._scales_zeros()
        power = float(self.power) if self.power is not None else 1.0
        return dequantize(self.codes(), s, z, self.group_size, power)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized weight, for code that reads `layer.weight` instead of calling the layer."""
        return self.weight_2d()

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.qweight, self.scales, self.zeros, self.power) if t is not None)

    def start_training(self):
        s, z = self._scales_zeros()
        self.trainable = nn.ParameterList([nn.Parameter(s.clone()), nn.Parameter(z.clone(), requires_grad=not self.symmetric)])

    def finish_training(self):
        s, z = self.trainable
        self.scales.copy_(s.detach().half())
        if self.zeros is not None:
            self.zeros.copy_(z.detach().half())
        self.trainable = None

    def _int8_forward(self, x):
        # y = (x_q s_x)(q_w - 128)^T s_w: the int32 accumulation is exact, only the activations are rounded
        x2 = x.reshape(-1, self.in_features).float()
        sx = (x2.abs().amax(1, keepdim=True) / 127).clamp(min=1e-12)
        xq = torch.clamp(torch.round(x2 / sx), -127, 127).to(torch.int8)
        wq = (self.codes().to(torch.int16) - 128).to(torch.int8)
        acc = torch._int_mm(xq, wq.T.contiguous()).float()
        y = acc * sx * self.scales.float().reshape(1, -1)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)

    def forward(self, x):
        if self.int8_matmul and self.trainable is None and x.device.type == "cpu" and x.reshape(-1, x.shape[-1]).shape[0] > 16:
            return self._int8_forward(x)  # torch._int_mm on CPU needs more than 16 rows
        return F.linear(x, self.weight_2d().to(x.dtype), self.bias)


class QuantConv1d(QuantLinear):
    """A Conv1d as the linear map of its unfolded input: weight [out, in, k] is quantized as [out, in * k]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, bits, group_size,
                 symmetric=False, power=False, bias=True):
        super().__init__(in_channels * kernel_size, out_channels, bits, group_size, symmetric, power, bias)
        self.in_channels, self.kernel_size = in_channels, kernel_size
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def spec(self) -> dict:
        return {**super().spec(), "type": "conv1d", "in_channels": self.in_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    @classmethod
    def from_conv(cls, conv: nn.Conv1d, qw: QuantizedWeight):
        m = cls(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.padding[0],
                conv.dilation[0], qw.bits, qw.group_size, qw.symmetric, qw.power != 1.0, conv.bias is not None)
        m.load_quantized(qw, conv.bias)
        return m

    @property
    def weight(self) -> torch.Tensor:
        return self.weight_2d().reshape(self.out_features, self.in_channels, self.kernel_size)

    def forward(self, x):
        return F.conv1d(x, self.weight.to(x.dtype), self.bias, self.stride, self.padding, self.dilation)


def layer_from_spec(spec: dict) -> QuantLinear:
    if spec["type"] == "conv1d":
        return QuantConv1d(spec["in_channels"], spec["out_features"], spec["kernel_size"], spec["stride"],
                           spec["padding"], spec["dilation"], spec["bits"], spec["group_size"], spec["symmetric"],
                           spec["power"], spec["bias"])
    return QuantLinear(spec["in_features"], spec["out_features"], spec["bits"], spec["group_size"],
                       spec["symmetric"], spec["power"], spec["bias"], spec.get("int8_matmul", False))


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def formula_bits(bits: int, group_size: int, symmetric: bool, power: bool = False) -> float:
    """Bits per weight of our layout: b + 16/g for each fp16 scale (+ 16/g for a fp16 zero)."""
    return bits + (16 if symmetric else 32) / group_size


def quantized_model(cfg: dict, layers: dict) -> nn.Module:
    """The model of this model.json with the quantized layers of `layers` (name -> spec) in place, their
    tensors still to be loaded."""
    if cfg["arch"] == "transformers":
        from ml.quantize.hf_folder import quantized_lm
        return quantized_lm(cfg["transformers_config"], layers)
    model = nets.build(cfg["arch"], **cfg.get("arch_kwargs", {}))
    for name, spec in layers.items():
        set_module(model, name, layer_from_spec(spec))
    return model


def load_quantized(path, cfg: dict, device="cpu") -> nn.Module:
    model = quantized_model(cfg, cfg["quantization"]["layers"])
    state = load_file(str(Path(path) / "model.safetensors"), device="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - set(cfg.get("tied", {})):  # tied tensors are stored once (ml/modelio.py)
        raise ValueError(f"{path}: the weights do not match model.json (missing {sorted(set(missing))[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]})")
    return model.to(device)
