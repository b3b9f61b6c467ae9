"""The GPTQ checkpoint layout (AutoGPTQ's v1 format, what transformers' GPTQ integration and vLLM read), where
our codes fit it: uniform grids with integer zeros (RTN, GPTQ; not decoupleQ's float zeros nor NUPES's
power grid), 2/4/8 bits (32/b codes per int32 word), contiguous groups.

Per quantized layer of in x out: `qweight` int32 [in * b / 32, out] (codes packed along the input dim, lowest
bits first), `qzeros` int32 [G, out * b / 32] (zero - 1, v1's offset, packed along the output dim), `scales`
fp16 [G, out], `g_idx` int32 [in] (= i // g: our groups stay contiguous even with act-order, GPTQ's "static
groups"), `bias` fp16. config.json carries `quantization_config` with quant_method "gptq". Dequantized:
W[o, i] = scales[g_idx[i], o] * (q[i, o] - (qzeros[g_idx[i], o] + 1)).
"""
from __future__ import annotations

import torch

GPTQ_BITS = (2, 4, 8)


def unsupported(layer, method: str) -> str | None:
    """Why this QuantLinear has no GPTQ layout, or None."""
    if method not in ("rtn", "gptq"):
        return f"{method} has float zeros or a non-uniform grid"
    if layer.bits not in GPTQ_BITS:
        return f"{layer.bits}-bit codes do not fill int32 words"
    if layer.power is not None:
        return "a power grid"
    if layer.zeros is not None and bool((layer.zeros == 0).any()):
        return "a zero point of 0 (v1 stores zero - 1)"
    return None


def pack_along(x: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    """Non-negative ints [.., n, ..] -> int32 words, 32/bits of them per word along `dim`, lowest bits first."""
    x = x.to(torch.int64).movedim(dim, 0)
    per = 32 // bits
    x = x.reshape(x.shape[0] // per, per, *x.shape[1:])
    shifts = (torch.arange(per, dtype=torch.int64) * bits).reshape(1, per, *([1] * (x.dim() - 2)))
    words = ((x & (2 ** bits - 1)) << shifts).sum(1)
    words = torch.where(words >= 2 ** 31, words - 2 ** 32, words).to(torch.int32)
    return words.movedim(0, dim)


def unpack_along(words: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    w = words.to(torch.int64).movedim(dim, 0) & 0xFFFFFFFF
    per = 32 // bits
    shifts = (torch.arange(per, dtype=torch.int64) * bits).reshape(1, per, *([1] * (w.dim() - 1)))
    x = (w.unsqueeze(1) >> shifts) & (2 ** bits - 1)
    return x.reshape(-1, *w.shape[1:]).movedim(0, dim)


def gptq_tensors(layer, prefix: str) -> dict:
    """The GPTQ tensors of one QuantLinear."""
    out, n, g = layer.out_features, layer.in_features, layer.group_size
    codes = layer.codes().to(torch.int64)                       # [out, in]
    zeros = layer.zeros.float() if layer.zeros is not None else torch.full_like(layer.scales, 2.0 ** (layer.bits - 1),
                                                                                 dtype=torch.float32)
    t = {prefix + ".qweight": pack_along(codes.T, layer.bits, 0),
         prefix + ".qzeros": pack_along(zeros.round().to(torch.int64).T - 1, layer.bits, 1),
         prefix + ".scales": layer.scales.T.contiguous().half(),
         prefix + ".g_idx": (torch.arange(n) // g).to(torch.int32)}
    if layer.bias is not None:
        t[prefix + ".bias"] = layer.bias.detach().half()
    return {k: v.contiguous() for k, v in t.items()}


def dequantize_gptq(t: dict, prefix: str, bits: int) -> torch.Tensor:
    """W [out, in] from the GPTQ tensors (the reader's formula, for the round-trip check)."""
    q = unpack_along(t[prefix + ".qweight"], bits, 0)            # [in, out]
    z = unpack_along(t[prefix + ".qzeros"], bits, 1) + 1        # [G, out]
    s, gi = t[prefix + ".scales"].float(), t[prefix + ".g_idx"].long()
    return (s[gi] * (q.float() - z[gi].float())).T


def quantization_config(bits: int, group_size: int, symmetric: bool) -> dict:
    return {"quant_method": "gptq", "bits": bits, "group_size": group_size, "desc_act": False, "sym": symmetric,
            "checkpoint_format": "gptq", "static_groups": True}
