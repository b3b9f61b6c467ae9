"""The `train` job kind: continuous diffusion and rectified flows (and, dispatched, the DNA task).

`run(params, reporter) -> result` with `Params` in ml/train/params.py. Objectives: VP diffusion
(eps / x0 / v), rectified flow, reflow, k-step distillation, SlimFlow; `masked_diffusion` and
`oracle` are the DNA task's, trained by `ml.dna.train_job`.
"""
from __future__ import annotations

from ml.params import parse
from ml.train.params import Params

__all__ = ["Params", "run"]


def run(params, reporter) -> dict:
    p = parse(Params, params)
    if p.objective in ("masked_diffusion", "oracle") or p.data.type == "dna":
        from ml.dna.train_job import run as dna_run  # another helper's module; imported only when used

        return dna_run(p.model_dump(), reporter)
    if p.world_size > 1:
        from ml.train.ddp import launch

        return launch(p, reporter)
    from ml.train.loop import train

    return train(p, reporter)
