import math

import pytest
import torch

from ml.quantize.packing import pack, unpack


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("shape", [(7, 13), (64, 128)])
def test_pack_unpack_round_trip_with_exact_size(bits, shape):
    g = torch.Generator().manual_seed(bits)
    codes = torch.randint(0, 2 ** bits, shape, generator=g).to(torch.uint8)
    words = pack(codes, bits)
    assert words.dtype == torch.int32 and words.numel() == math.ceil(codes.numel() * bits / 32)
    assert torch.equal(unpack(words, bits, shape), codes)


def test_pack_rejects_codes_wider_than_bits():
    with pytest.raises(ValueError):
        pack(torch.tensor([4], dtype=torch.uint8), 2)
