"""Training data that needs no download: 2-D toys drawn on the fly, and the 8x8 digits.

`make_dataset(spec, device)` turns a data spec (a params dict with a "type" key) into a
`Dataset` with one method `sample(n, generator)`; toys draw fresh points, digits draw
training-half images with replacement; a file of your own (`{"type": "file", "path"}`, ml/data/arrays.py)
draws rows of its training part with replacement, and `fresh` draws its held-out rows. Either way all randomness comes from the generator,
so saving the generator's state saves the data sampler's state (exact resume).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ml.data import arrays
from ml.data.digits import digits_half
from ml.data.split import holdout_split
from ml.data.toys import TOYS


@dataclass
class Dataset:
    kind: str                      # "toy", "image" (the digits), "vectors" or "images" (a file of your own)
    shape: tuple                   # data_shape of one sample: (2,), (1, 8, 8), (d,), (C, H, W)
    sample: Callable               # sample(n, generator) -> [n, *shape] tensor on `device`
    fresh: Callable                # fresh(n, generator) -> samples independent of training (eval)
    held_out: Optional[torch.Tensor] = None   # a file's held-out rows: the reference of its FD


def _rows(x, device):
    def draw(n, generator):
        return x[torch.randint(0, len(x), (n,), generator=generator, device=device)]

    return draw


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
        return Dataset("image", (1, 8, 8), _rows(x, device), _rows(held, device))
    if typ == "file":
        x = arrays.load(spec["path"])
        train, held = holdout_split(len(x), spec["holdout"], spec["split_seed"])
        xt, xh = (torch.from_numpy(x[idx]).to(device) for idx in (train, held))
        return Dataset("vectors" if x.ndim == 2 else "images", tuple(x.shape[1:]), _rows(xt, device),
                       _rows(xh, device), xh)
    raise ValueError(f"unknown data type {typ!r}")
