"""A transformers causal LM run and quantized one decoder block at a time (GPTQ's sequential protocol at
block granularity, Frantar et al. 2023, Sec. 4; the decoupleQ repo's `quant_sequential`).

The calibration windows go through the embeddings once; the inputs block 0 receives (hidden states plus
its keyword arguments: mask, position ids or embeddings) are captured, and from there the stream moves
block by block: block i is loaded in fp32, its linear layers are quantized in forward order with each
one's H collected from the block run on the stream with the earlier layers already quantized
(`quantize_model` on the block), decoupleQ's block stage tunes it against the fp block on the same
inputs, and the quantized block's outputs become block i+1's inputs. Only block i is ever in fp32.
"""
from __future__ import annotations

import copy
import fnmatch

import torch
from torch import nn

from ml.quantize.calls import Call, forward
from ml.quantize.hf_text import window_losses
from ml.quantize.model import candidate_layers, quantize_model


class _Stop(Exception):
    pass


def block_inputs(lm, windows: torch.Tensor, batch: int) -> list[Call]:
    """What block 0 receives for each batch of windows."""
    got = []

    def hook(mod, args, kwargs):
        got.append(Call(tuple(args), dict(kwargs)))
        raise _Stop

    h = lm.layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            for i in range(0, len(windows), batch):
                try:
                    lm.model(input_ids=windows[i:i + batch], use_cache=False)
                except _Stop:
                    pass
    finally:
        h.remove()
    return got


def _with_hidden(call: Call, hidden: torch.Tensor) -> Call:
    if call.args:
        return Call((hidden,) + call.args[1:], call.kwargs)
    return Call((), {**call.kwargs, "hidden_states": hidden})


def advance(block: nn.Module, calls: list[Call]) -> list[Call]:
    """The next block's inputs: this block's outputs with the same keyword arguments."""
    with torch.no_grad():
        return [_with_hidden(c, forward(block, c)) for c in calls]


class _Emit(nn.Module):
    """Stands in for block 0 and returns given hidden states, so the model's own tail (final norm, head) runs."""

    def __init__(self):
        super().__init__()
        self.hidden = None

    def forward(self, *args, **kwargs):
        return self.hidden


class _Pass(nn.Module):
    def forward(self, *args, **kwargs):
        return args[0] if args else kwargs["hidden_states"]


def tail_losses(lm, windows: torch.Tensor, calls: list[Call], batch: int) -> torch.Tensor:
    """Per-window losses of the model's tail on the last block's outputs `calls` (one per batch of windows)."""
    layers = lm.layers
    saved = list(layers)
    emit = _Emit()
    for i in range(len(layers)):
        layers[i] = emit if i == 0 else _Pass()
    losses = []
    try:
        with torch.no_grad():
            for k, c in enumerate(calls):
                emit.hidden = c.args[0] if c.args else c.kwargs["hidden_states"]
                x = windows[k * batch:(k + 1) * batch]
                losses.append(window_losses(lm.model(input_ids=x, use_cache=False).logits, x))
    finally:
        for i, b in enumerate(saved):
            layers[i] = b
    return torch.cat(losses)


def streamed_perplexity(lm, windows: torch.Tensor, batch: int = 16, check=None) -> float:
    """Perplexity of the fp model from its files, loading one block at a time (the model need not fit)."""
    calls = block_inputs(lm, windows, batch)
    for i in range(lm.n_blocks):
        calls = advance(lm.load_block(i), calls)
        lm.unload_block(i)
        if check is not None:
            check()
    return float(torch.exp(tail_losses(lm, windows, calls, batch).double().mean()))


def quantize_block(lm, i: int, calls: list[Call], method, bits, group_size, symmetric, options, skip, include_conv1d,
                   tune=None) -> list[dict]:
    """Load block i, quantize it in place on `calls`; `tune(qblock, fblock, calls)` is decoupleQ's block stage.
    Returns its layer rows, named from the model's root."""
    block = lm.load_block(i)
    prefix = lm.block_name(i) + "."
    fp_block = copy.deepcopy(block) if tune is not None else None
    # the user's patterns name layers from the model's root; quantize_model matches names inside the block
    skipped = [n for n in candidate_layers(block, include_conv1d) if any(fnmatch.fnmatch(prefix + n, s) for s in skip)]
    rows = quantize_model(block, calls, method, bits, group_size, symmetric, options, skipped, include_conv1d,
                          blocks=[""] if tune is not None else (),
                          on_block=(lambda spec: tune(block, fp_block, calls)) if tune is not None else None)
    return [{**r, "name": prefix + r["name"]} for r in rows]
