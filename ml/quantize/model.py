"""Sequential model quantization (GPTQ's protocol, Frantar et al. 2023, Sec. 4 "sequential").

Layers are quantized one at a time in forward order. Each layer's H = X^T X / n is collected by a forward
hook while the calibration data runs through the *partially quantized* model, so later layers see (and
can compensate) the errors of earlier ones. The forward stops at the hooked layer: the rest would be
wasted work. A quantized layer is replaced by its packed `QuantLinear` / `QuantConv1d` at once, so what
later layers see and what is saved are the same fp16-scaled weights. GPT-2's `Conv1D` (transformers; a
linear layer that stores its weight as [in, out]) is quantized as the [out, in] transpose and becomes a
`QuantLinear`. A calibration batch is a tuple of forward arguments or a `Call` (arguments and keyword
arguments: what a transformer block receives).
"""
from __future__ import annotations

import fnmatch
import time

import torch
import torch.nn.functional as F
from torch import nn

from ml.quantize.block_stage import in_block
from ml.quantize.calls import Call, forward  # noqa: F401  (Call: the batch type callers build)
from ml.quantize.grid import resolve_group_size
from ml.quantize.hessian import relative_output_error
from ml.quantize.layer import quantize_weight
from ml.quantize.packed import QuantConv1d, QuantLinear, set_module
from ml.reporting import check_stop


class _Stop(Exception):
    pass


def is_gpt2_conv1d(m: nn.Module) -> bool:
    # by name: ml/ imports transformers only where a transformers model is loaded
    return type(m).__name__ == "Conv1D" and hasattr(m, "nf") and m.weight.dim() == 2


def weight_2d(m: nn.Module) -> torch.Tensor:
    """The layer's weight as the [out, in] matrix it multiplies inputs by."""
    w = m.weight.detach()
    return (w.T if is_gpt2_conv1d(m) else w.reshape(w.shape[0], -1)).float()


def _quantizable(m: nn.Module, include_conv1d: bool) -> bool:
    if isinstance(m, QuantLinear):
        return False
    if isinstance(m, nn.Linear) or is_gpt2_conv1d(m):
        return True
    return (include_conv1d and isinstance(m, nn.Conv1d) and m.groups == 1 and m.padding_mode == "zeros"
            and isinstance(m.padding, tuple))


def candidate_layers(model, include_conv1d=True, skip=()):
    return [name for name, m in model.named_modules()
            if _quantizable(m, include_conv1d) and not any(fnmatch.fnmatch(name, p) for p in skip)]


def layers_in_forward_order(model, calib, include_conv1d=True, skip=()):
    """Names of the layers to quantize, in the order a forward pass calls them (skipped patterns removed).

    A layer whose module is never called (a forward that reads `layer.weight` itself) has no hookable
    inputs and is left out; `candidate_layers` minus this list names them."""
    order, hooks = [], []
    for name in candidate_layers(model, include_conv1d, skip):
        m = model.get_submodule(name)
        hooks.append(m.register_forward_pre_hook(lambda mod, args, name=name: order.append(name) if name not in order else None))
    try:
        with torch.no_grad():
            forward(model, calib[0])
    finally:
        for h in hooks:
            h.remove()
    return order


def layer_inputs_2d(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rows X the layer multiplies by W^T: tokens for Linear, unfolded patches for Conv1d."""
    if isinstance(m, nn.Conv1d):
        cols = F.unfold(x[:, :, None, :], (1, m.kernel_size[0]), dilation=(1, m.dilation[0]),
                        padding=(0, m.padding[0]), stride=(1, m.stride[0]))
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
    return x.reshape(-1, x.shape[-1])


def collect_hessian(model, module, calib):
    """H = X^T X / n of `module`'s inputs over the calibration batches (float64)."""
    state = {"H": None, "n": 0}

    def hook(mod, args):
        X = layer_inputs_2d(mod, args[0].detach()).double()
        state["H"] = X.T @ X if state["H"] is None else state["H"] + X.T @ X
        state["n"] += X.shape[0]
        raise _Stop

    h = module.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            for batch in calib:
                try:
                    forward(model, batch)
                except _Stop:
                    pass
    finally:
        h.remove()
    return state["H"] / max(1, state["n"])


def quantize_model(model, calib, method, bits, group_size=-1, symmetric=False, options=None, skip=(),
                   include_conv1d=True, reporter=None, done=(), on_layer=None, int8_matmul=False, blocks=(),
                   on_block=None):
    """Quantize `model` in place; returns the per-layer table (name, shape, bits, group, rel. output error, ...).

    Layers that already are `QuantLinear` (a resumed checkpoint) are not touched; `done` holds their rows.
    `on_block(spec)` runs once the last layer of a block in `blocks` (block_stage specs) is quantized, before
    the next layer's H is collected; what it returns is kept in that layer's row as "block_stage".
    `on_layer(rows)` runs after each layer, and after its block's `on_block` (the runner checkpoints there)."""
    options = options or {}
    names = layers_in_forward_order(model, calib, include_conv1d, skip)
    rows = list(done)
    for k, name in enumerate(names):
        m = model.get_submodule(name)
        W = weight_2d(m)
        g = group_size if group_size == -1 or W.shape[1] % group_size == 0 else -1  # a group must divide the row
        H = collect_hessian(model, m, calib)
        t0 = time.perf_counter()
        qw = quantize_weight(W, None, method, bits, g, symmetric, H=H, **options).to_storage_precision()
        seconds = time.perf_counter() - t0
        if isinstance(m, nn.Conv1d):
            new = QuantConv1d.from_conv(m, qw)
        else:
            new = QuantLinear.from_quantized(qw, m.bias, int8_matmul=int8_matmul)
        set_module(model, name, new)
        row = {"name": name, "type": "conv1d" if isinstance(m, nn.Conv1d) else "linear", "shape": list(W.shape),
               "bits": bits, "group_size": resolve_group_size(g, W.shape[1]), "symmetric": qw.symmetric,
               "rel_error": relative_output_error(W, qw.dequantize(), H), "packed_bytes": new.nbytes,
               "seconds": round(seconds, 4)}
        if qw.power != 1.0:
            row["power"] = qw.power
        if is_gpt2_conv1d(m):
            row["stored_transposed"] = True  # GPT-2 Conv1D: [in, out] in its checkpoint
        spec = next((b for b in blocks if in_block(b, name)), None)
        if on_block is not None and spec is not None and not any(in_block(spec, later) for later in names[k + 1:]):
            stage = on_block(spec)
            if stage is not None:
                row["block_stage"] = stage
        rows.append(row)
        if on_layer is not None:
            on_layer(rows)
        if reporter is not None:
            reporter.metric("layer_rel_error", row["rel_error"], len(rows) - 1)
            reporter.progress(len(rows), len(names) + len(done))
            check_stop(reporter)
    return rows
