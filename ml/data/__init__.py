"""Training data that needs no download: 2-D toys drawn on the fly, and the 8x8 digits.

`make_dataset(spec, device)` turns a data spec (a params dict with a "type" key) into a
`Dataset` with one method `sample(n, generator)`; toys draw fresh points, digits draw
training-half images with replacement. Either way all randomness comes from the generator,
so saving the generator's state saves the data sampler's state (exact resume).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ml.data.digits import digits_half
from ml.data.toys import TOYS


@dataclass
class Dataset:
    kind: str                      # "toy" or "image"
    shape: tuple                   # data_shape of one sample: (2,) or (1, 8, 8)
    sample: Callable               # sample(n, generator) -> [n, *shape] tensor on `device`
    fresh: Callable                # fresh(n, generator) -> samples independent of training (eval)


def make_dataset(spec: dict, device="cpu") -> Dataset:
    typ = spec["type"]
    if typ in TOYS:
        kw = {k: v for k, v in spec.items() if k != "type"}
        fn = TOYS[typ]

        def sample(n, generator):
            return fn(n, generator, device, **kw)

        return Dataset("toy", (2,), sample, sample)
    if typ == "digits":
        x, _ = digits_half(0, device)
        held, _ = digits_half(1, device)

        def sample(n, generator):
            return x[torch.randint(0, len(x), (n,), generator=generator, device=device)]

        def fresh(n, generator):
            return held[torch.randint(0, len(held), (n,), generator=generator, device=device)]

        return Dataset("image", (1, 8, 8), sample, fresh)
    raise ValueError(f"unknown data type {typ!r}")
