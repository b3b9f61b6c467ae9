"""decoupleQ's second stage: block-wise minimisation (Guo et al. 2024, Sec. 3.3; the repo's `minimize_block`).

It runs right after a block's layers are quantized, before the next block is (the repo's `quant_sequential`),
so later blocks are calibrated on the outputs of the tuned ones. With every integer code frozen, Adam (betas
0.9/0.99, eps 2e-5, weight decay 1e-6, one step per calibration sample) tunes the float part (scales, and
zeros unless symmetric) of the block's quantized layers, plus its norms' weights and biases (`--train-LN`)
and optionally the linear biases (`--train-bias`), on the MSE between the quantized block's output and the
full-precision block's output *on the same inputs* (those coming from the quantized model before it).
A block spec is a module name ("" = the whole model) or a list of sibling modules run in sequence (the
final norm and LM head of a transformer, which lie outside every block). A block whose calibration MSE
would rise keeps its stage-1 values.
"""
from __future__ import annotations

import torch
from torch import nn

from ml.quantize.calls import Call, forward
from ml.quantize.packed import QuantLinear


class _Stop(Exception):
    pass


def block_module(model: nn.Module, spec) -> nn.Module:
    if isinstance(spec, str):
        return model.get_submodule(spec) if spec else model
    return nn.Sequential(*[model.get_submodule(n) for n in spec])  # a view: the modules stay the model's


def in_block(spec, layer: str) -> bool:
    return any(p == "" or layer == p or layer.startswith(p + ".") for p in ([spec] if isinstance(spec, str) else spec))


def block_inputs(model, spec, calib):
    """The forward arguments `spec` receives in `model`, one tuple per calibration batch."""
    if spec == "":
        return [b if isinstance(b, Call) else tuple(b) for b in calib]
    first = model.get_submodule(spec if isinstance(spec, str) else spec[0])
    got = []

    def hook(mod, args):
        got.append(tuple(a.detach() for a in args))
        raise _Stop

    h = first.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            for b in calib:
                try:
                    forward(model, b)
                except _Stop:
                    pass
    finally:
        h.remove()
    return got


def _mse(block, inputs, targets):
    with torch.no_grad():
        return sum(float(((forward(block, x) - y) ** 2).mean()) for x, y in zip(inputs, targets)) / len(inputs)


def block_stage(qmodel, fp_model, calib, spec, epochs=4, lr=1e-3, train_norms=True, train_bias=False,
                weight_decay=1e-6):
    """Tune block `spec` of `qmodel` in place; returns (mse_before, mse_after) on the calibration set, or None."""
    qblock, fblock = block_module(qmodel, spec), block_module(fp_model, spec)
    quant = [m for m in qblock.modules() if isinstance(m, QuantLinear)]
    if not quant or epochs == 0:
        return None
    inputs = block_inputs(qmodel, spec, calib)
    with torch.no_grad():
        targets = [forward(fblock, x) for x in inputs]
    before = _mse(qblock, inputs, targets)
    saved = {k: v.clone() for k, v in qblock.state_dict().items()}
    for m in quant:
        m.start_training()
    params = [p for m in quant for p in m.trainable if p.requires_grad]
    if train_norms:
        params += [p for m in qblock.modules() if "Norm" in type(m).__name__ for p in m.parameters()]
    if train_bias:
        params += [m.bias for m in quant if m.bias is not None]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99), eps=2e-5, weight_decay=weight_decay)
    samples = [(xi, y[i:i + 1]) for x, y in zip(inputs, targets)
               for i, xi in enumerate(x.samples() if isinstance(x, Call) else [tuple(a[i:i + 1] for a in x)
                                                                                for i in range(y.shape[0])])]
    for _ in range(epochs):
        for x, y in samples:
            loss = ((forward(qblock, x) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for m in quant:
        m.finish_training()  # scales/zeros back to fp16: the MSE below is the stored model's
    for p in qblock.parameters():
        p.requires_grad_(False)
    after = _mse(qblock, inputs, targets)
    if not after < before:
        qblock.load_state_dict(saved)
        after = before
    return before, after
