"""The uniform quantization grid shared by every method, and the quantized-weight record.

Convention (one for all methods, so one packed format and one `QuantLinear` serve them all):
codes q are unsigned integers in [0, 2^b - 1]; each (row, group of g consecutive input
columns) has a float scale s and a zero z in code units, and the dequantized weight is

    w_hat = s * (q - z)                       (uniform: RTN, GPTQ, decoupleQ)
    w_hat = sign(v) |v|^(1/a),  v = s (q - z)  (NUPES power quantizer, exponent a)

RTN/GPTQ have an integer z (torchao's `zero_point`); decoupleQ's float offset c
(w_hat = s q + c, Guo et al. 2024 eq. 3) is the same thing with z = -c / s. Symmetric
grids fix z = 2^(b-1) and use the sign-magnitude levels -(2^(b-1)-1)..2^(b-1)-1, so NUPES
with a = 1 is exactly symmetric RTN; their zeros are not stored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# torchao clamps scales to the smallest normal of the input dtype; we do the same to match it bit for bit
EPS = torch.finfo(torch.float32).smallest_normal


@dataclass
class QuantizedWeight:
    codes: torch.Tensor          # uint8 [out, in], values in [0, 2^bits - 1]
    scales: torch.Tensor         # float32 [out, n_groups]
    zeros: torch.Tensor          # float32 [out, n_groups], code units (constant 2^(bits-1) when symmetric)
    bits: int
    group_size: int              # columns per group; equals `in` for per-channel
    symmetric: bool = False
    power: float = 1.0           # NUPES exponent a; 1.0 is the uniform grid
    method: str = "rtn"

    @property
    def shape(self):
        return tuple(self.codes.shape)

    def dequantize(self) -> torch.Tensor:
        return dequantize(self.codes, self.scales, self.zeros, self.group_size, self.power)

    @property
    def nbytes(self) -> int:
        """Packed size: codes in 32-bit words, fp16 scales (+ fp16 zeros unless symmetric, + fp32 exponent for NUPES)."""
        n_groups = self.scales.numel()
        words = math.ceil(self.codes.numel() * self.bits / 32)
        return 4 * words + 2 * n_groups * (1 if self.symmetric else 2) + (4 if self.power != 1.0 else 0)

    def to_storage_precision(self) -> "QuantizedWeight":
        """Scales and zeros rounded to fp16, exactly as the packed file holds them."""
        return QuantizedWeight(self.codes, self.scales.half().float(), self.zeros.half().float(), self.bits,
                               self.group_size, self.symmetric, self.power, self.method)


def expand_groups(t: torch.Tensor, group_size: int, n_cols: int) -> torch.Tensor:
    """[out, n_groups] -> [out, in] by repeating each group's value over its columns."""
    return t.repeat_interleave(group_size, dim=1)[:, :n_cols]


def dequantize(codes, scales, zeros, group_size, power=1.0):
    n = codes.shape[1]
    v = (codes.float() - expand_groups(zeros, group_size, n)) * expand_groups(scales, group_size, n)
    if power != 1.0:
        v = torch.sign(v) * v.abs().pow(1.0 / power)
    return v


def resolve_group_size(group_size: int, n_cols: int) -> int:
    g = n_cols if group_size in (-1, 0) or group_size >= n_cols else group_size
    if n_cols % g:
        raise ValueError(f"group size {g} does not divide the {n_cols} input columns")
    return g


def minmax_params(w: torch.Tensor, bits: int, symmetric: bool, shrink: float | torch.Tensor = 1.0):
    """Scale and zero of one group (or a batch of groups) from its range; w is [..., g].

    Asymmetric follows torchao's `choose_qparams_affine` (ASYMMETRIC) operation for operation, so our RTN
    equals IntxWeightOnlyConfig bit for bit: the range is widened to contain 0, scale = range / (2^b - 1),
    zero = -round(min / scale) clamped to the code range. `shrink` < 1 clips the range (GPTQ's / decoupleQ's
    MSE grid search).
    """
    maxq = 2 ** bits - 1
    if symmetric:
        half = 2 ** (bits - 1) - 1
        if half == 0:
            raise ValueError("symmetric 1-bit has no levels besides 0")
        scale = (w.abs().amax(-1) * shrink / half).clamp(min=EPS)
        zero = torch.full_like(scale, float(2 ** (bits - 1)))
        return scale, zero
    lo = torch.clamp(w.amin(-1) * shrink, max=0.0)
    hi = torch.clamp(w.amax(-1) * shrink, min=0.0)
    scale = ((hi - lo) / float(maxq)).clamp(min=EPS)
    zero = torch.clamp(-torch.round(lo / scale), 0, maxq)
    return scale, zero


def quantize_codes(w, scale, zero, bits, symmetric):
    """Nearest code on a fixed grid (broadcasting scale/zero against w).

    An integer zero is added after rounding, as torchao's `quantize_affine` does (so ties round alike); a
    float zero (decoupleQ's least-squares offset) shifts the grid, so its fractional part is rounded with w:
    round(w/s) + z would be no grid point at all."""
    if symmetric:
        half = 2 ** (bits - 1) - 1
        return torch.clamp(torch.round(w * (1.0 / scale)), -half, half) + zero
    whole = torch.round(zero)
    return torch.clamp(torch.round(w * (1.0 / scale) + (zero - whole)) + whole, 0, 2 ** bits - 1)
