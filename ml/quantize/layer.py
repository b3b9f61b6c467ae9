"""`quantize_weight`: one weight matrix, any method (the public function of ml/quantize, see docs/kinds/quantize.md)."""
from __future__ import annotations

import torch

from ml.quantize.decoupleq import quantize_decoupleq
from ml.quantize.gptq import quantize_gptq
from ml.quantize.grid import QuantizedWeight
from ml.quantize.hessian import hessian
from ml.quantize.nupes import quantize_nupes
from ml.quantize.rtn import quantize_rtn

METHODS = ("rtn", "gptq", "decoupleq", "nupes")


def quantize_weight(weight: torch.Tensor, inputs: torch.Tensor | None, method: str, bits: int, group_size: int = -1,
                    symmetric: bool = False, H: torch.Tensor | None = None, **options) -> QuantizedWeight:
    """Quantize `weight` [out, in] given calibration activations `inputs` [n, in] (or their H = X^T X / n).

    `options` go to the method: gptq (act_order, block_size, percdamp), decoupleq (max_iter, round_fn,
    act_order, pgd_steps, inner_steps, ...), nupes (power, steps, lr). NUPES is always sign-magnitude
    (symmetric); `symmetric` is ignored there.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known: {METHODS}")
    if not 2 <= bits <= 8:
        raise ValueError("bits must be in 2..8")
    if method == "rtn":
        return quantize_rtn(weight, bits, group_size, symmetric)
    if H is None:
        if inputs is None:
            if method != "nupes":
                raise ValueError(f"{method} needs calibration inputs")
        else:
            H = hessian(inputs)
    if method == "gptq":
        return quantize_gptq(weight, H, bits, group_size, symmetric, **options)
    if method == "decoupleq":
        return quantize_decoupleq(weight, H, bits, group_size, symmetric, **options)
    return quantize_nupes(weight, H, bits, group_size, **options)
