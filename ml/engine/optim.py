"""Optimiser, learning-rate schedule and weight EMA of every training run (ml.engine.fit).

- Optimisers: AdamW (Loshchilov & Hutter 2019), Adam (DRAKES), Lion (Chen et al. 2023, lion.py).
- LR: linear warm-up (Goyal et al. 2017), then cosine decay to 0 (Loshchilov & Hutter 2017, SGDR)
  or constant (MDLM, Sahoo et al. 2024, trains at its peak LR after the warm-up).
- EMA of weights (Polyak averaging, as in DDPM, Ho et al. 2020): the EMA model is what gets
  sampled. The decay is warmed up, min(decay, (1 + n) / (10 + n)), so short runs are not
  dominated by the random initial weights.
"""
from __future__ import annotations

import copy
import math

import torch

from ml.engine.lion import Lion


def make_optimizer(name, params, lr, weight_decay=0.0):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "lion":
        return Lion(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


SCHEDULES = ("cosine", "constant")


def lr_at(step, base_lr, warmup, total, schedule="cosine"):
    """LR for optimiser step `step` (0-based): linear warm-up over `warmup` steps, then `schedule`."""
    if schedule == "constant":
        # the warm-up fraction first, then the product: the float order DNA runs always had (same bits)
        return base_lr * min(1.0, (step + 1) / max(warmup, 1))
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_ema(model):
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def ema_update(ema, model, decay, n_updates):
    d = min(decay, (1 + n_updates) / (10 + n_updates))
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.lerp_(pm.detach(), 1 - d)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)
