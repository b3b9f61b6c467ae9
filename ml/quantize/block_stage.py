"""decoupleQ's second stage: block-wise minimisation (Guo et al. 2024, Sec. 3.3).

With every integer code frozen, tune the float part (scales, zeros) of each block's quantized layers,
plus its LayerNorm weights and biases and the linear biases ("--train-LN"), with Adam (betas 0.9, 0.99)
on the MSE between the quantized block's output and the full-precision block's output. Blocks run in
order: block k's inputs come from the already-tuned quantized blocks before it, its targets from the fp
model. A block whose calibration MSE would rise keeps its stage-1 values. A final "block" "" is the whole
model against the fp model's outputs, so layers outside every block (a LM head) are tuned too.
"""
from __future__ import annotations

import torch
from torch import nn

from ml.quantize.packed import QuantLinear


def _capture(model, block, calib, what):
    out = []

    def hook(mod, args, result):
        out.append(tuple(a.detach() for a in args) if what == "in" else result.detach())

    h = block.register_forward_hook(hook)
    try:
        with torch.no_grad():
            for b in calib:
                model(*b)
    finally:
        h.remove()
    return out


def _mse(block, inputs, targets):
    with torch.no_grad():
        return sum(float(((block(*x) - y) ** 2).mean()) for x, y in zip(inputs, targets)) / len(inputs)


def block_stage(qmodel, fp_model, calib, blocks, epochs=4, lr=1e-3, reporter=None, batch=8):
    """Returns [(block, mse_before, mse_after)]. Steps run on minibatches of `batch` calibration samples
    (the repo steps per sample; a whole calibration batch per step gave too few steps to move)."""
    calib = [tuple(t[i:i + batch] for t in b) for b in calib for i in range(0, b[0].shape[0], batch)]
    log = []
    for name in blocks:
        qblock = qmodel.get_submodule(name) if name else qmodel
        fblock = fp_model.get_submodule(name) if name else fp_model
        inputs = _capture(qmodel, qblock, calib, "in")
        targets = _capture(fp_model, fblock, calib, "out")
        quant = [m for m in qblock.modules() if isinstance(m, QuantLinear)]
        if not quant or epochs == 0:
            continue
        before = _mse(qblock, inputs, targets)
        saved = {k: v.clone() for k, v in qblock.state_dict().items()}
        for m in quant:
            m.start_training()
        params = [p for m in quant for p in m.trainable if p.requires_grad]
        params += [p for m in qblock.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()]
        params += [m.bias for m in quant if m.bias is not None]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
        for _ in range(epochs):
            for x, y in zip(inputs, targets):
                loss = ((qblock(*x) - y) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        for m in quant:
            m.finish_training()
        for p in qblock.parameters():
            p.requires_grad_(False)
        after = _mse(qblock, inputs, targets)
        if not after < before:
            qblock.load_state_dict(saved)
            after = before
        log.append((name, before, after))
        if reporter is not None:
            reporter.log(f"block stage {name or 'model'}: calibration MSE {before:.3e} -> {after:.3e}")
    return log
