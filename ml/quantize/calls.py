"""Calibration batches: a tuple of forward arguments, or a `Call` with keyword arguments too (what a
transformers decoder block receives: attention mask, position embeddings, ...)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Call:
    """One forward call's arguments, for modules that take keyword arguments (transformer blocks)."""
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def samples(self) -> list["Call"]:
        """One Call per batch row: tensors whose first dim is the batch are sliced, the rest shared."""
        n = self.args[0].shape[0]
        cut = lambda v, i: v[i:i + 1] if torch.is_tensor(v) and v.dim() and v.shape[0] == n else v  # noqa: E731
        return [Call(tuple(cut(a, i) for a in self.args), {k: cut(v, i) for k, v in self.kwargs.items()})
                for i in range(n)]


def forward(model, batch):
    """`model` on one calibration batch; a block's tuple output gives its hidden states."""
    out = model(*batch.args, **batch.kwargs) if isinstance(batch, Call) else model(*batch)
    return out[0] if isinstance(out, tuple) else out
