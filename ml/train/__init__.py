"""The `train` job kind: continuous diffusion and rectified flows, and the DNA task's objectives.

`run(params, reporter) -> result` with `Params` in ml/train/params.py (one typed branch per family of
objectives). Objectives: VP diffusion (eps / x0 / v), rectified flow, reflow, k-step distillation,
SlimFlow (ml/train/loop.py), the VP ones also continuing a diffusers UNet (ml/train/diffusers_unet.py);
`masked_diffusion` and `oracle` on the DNA task (ml/dna/train_job.py).
All of them train on ml.engine.
"""
from __future__ import annotations

from ml.train.params import ContinuousParams, Params

__all__ = ["Params", "run"]


def run(params, reporter) -> dict:
    p = Params.model_validate(params)
    if not isinstance(p, ContinuousParams):
        from ml.dna.train_job import run as dna_run

        return dna_run(p, reporter)
    if p.world_size > 1 or p.nodes > 1:
        from ml.train.ddp import launch

        return launch(p, reporter)
    from ml.train.loop import train

    return train(p, reporter)
