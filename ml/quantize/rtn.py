"""Round-to-nearest (RTN): the data-free baseline every other method is measured against.

Per (row, group): scale and zero from the group's range (see `grid.minmax_params`, identical to
torchao's IntxWeightOnlyConfig), then each weight goes to its nearest code. No calibration data.
"""
from __future__ import annotations

import torch

from ml.quantize.grid import QuantizedWeight, minmax_params, quantize_codes, resolve_group_size


def quantize_rtn(weight: torch.Tensor, bits: int, group_size: int = -1, symmetric: bool = False) -> QuantizedWeight:
    out, n = weight.shape
    g = resolve_group_size(group_size, n)
    w = weight.detach().float().reshape(out, n // g, g)
    scale, zero = minmax_params(w, bits, symmetric)
    q = quantize_codes(w, scale[..., None], zero[..., None], bits, symmetric)
    return QuantizedWeight(q.reshape(out, n).to(torch.uint8), scale, zero, bits, g, symmetric, method="rtn")
