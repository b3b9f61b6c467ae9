"""Bit-packing of b-bit codes into 32-bit words, exact for any b in 1..8.

The codes of a layer are read row-major as one bit stream (b bits each, least significant bit first)
and cut into int32 words, so n codes take exactly ceil(n b / 32) words: 3-bit codes cost 3 bits, not
the 3.2 of ten-per-word layouts. Unpacking is a shift-and-mask per bit, cheap
enough to run in every forward.
"""
from __future__ import annotations

import math

import torch


def packed_words(numel: int, bits: int) -> int:
    return math.ceil(numel * bits / 32)


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """uint8 codes (any shape) -> int32 words [ceil(numel * bits / 32)]."""
    flat = codes.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.max()) >> bits):
        raise ValueError(f"a code does not fit in {bits} bits")
    bit = torch.arange(bits, dtype=torch.int64)
    stream = ((flat[:, None] >> bit) & 1).reshape(-1)
    n_words = packed_words(flat.numel(), bits)
    stream = torch.cat([stream, stream.new_zeros(n_words * 32 - stream.numel())]).reshape(n_words, 32)
    words = (stream << torch.arange(32, dtype=torch.int64)).sum(1)
    # reinterpret bit 31 as the sign bit: int32 two's complement holds exactly the same 32 bits
    return torch.where(words >= 2 ** 31, words - 2 ** 32, words).to(torch.int32)


def unpack(words: torch.Tensor, bits: int, shape) -> torch.Tensor:
    """int32 words -> uint8 codes of `shape` (inverse of `pack`)."""
    numel = math.prod(shape)
    stream = ((words.to(torch.int64)[:, None] >> torch.arange(32, dtype=torch.int64)) & 1).reshape(-1)
    stream = stream[: numel * bits].reshape(numel, bits)
    codes = (stream << torch.arange(bits, dtype=torch.int64)).sum(1)
    return codes.to(torch.uint8).reshape(shape)
