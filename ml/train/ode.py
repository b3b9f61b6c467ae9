"""Probability-flow ODE solves that training needs (teacher pairs for reflow / distillation, evaluation
samples, the straightness path), all through the `sample` kind's solvers, so a model is trained on and
scored with exactly the maths users sample it with.

"auto" picks the family's usual sampler: Euler for flows (the rectified-flow sampler, Liu et al. 2023),
DPM-Solver++(2M) for VP; "heun" on a flow is `rf_heun`.
"""
from __future__ import annotations

import torch

from ml.sample.runner import sample_model


def sampler_for(config, sampler="auto"):
    flow = config["schedule"] == "flow"
    if sampler == "auto":
        return "rf_euler" if flow else "dpm_solver_pp_2m"
    if flow and sampler in ("euler", "heun"):
        return "rf_" + sampler
    return sampler


@torch.no_grad()
def solve(net, config, z, nfe, sampler="auto", schedule=None, chunk=None):
    """Samples from noise z with exactly `nfe` network evaluations per sample (schedule: see sample_model), `chunk`
    samples at a time when given (each sample's ODE is its own: chunking changes no result beyond rounding)."""
    sampler = sampler_for(config, sampler)
    if not chunk or len(z) <= chunk:
        return sample_model(net, config, z, sampler=sampler, nfe=nfe, schedule=schedule)
    return torch.cat([sample_model(net, config, part, sampler=sampler, nfe=nfe, schedule=schedule)
                      for part in z.split(chunk)])


@torch.no_grad()
def flow_path(net, z, n_steps):
    """The Euler path of a flow from z (t = 1) to t = 0: (x_end, velocities per step), each velocity read off
    the step it made, v_i = (x_{i+1} - x_i) / (t_{i+1} - t_i)."""
    xs = [z]
    x_end = sample_model(net, {"schedule": "flow", "prediction": "flow"}, z, sampler="rf_euler", nfe=n_steps,
                         callback=lambda i, x: xs.append(x))
    dt = -1.0 / n_steps
    return x_end, [(b - a) / dt for a, b in zip(xs[:-1], xs[1:])]
