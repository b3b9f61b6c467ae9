"""Periodic and final evaluation of the EMA model; every number comes with its floor.

Noise and reference data come from generators seeded apart from training, so evaluating never
changes the training run (a resumed run gives the same numbers).
2-D: sliced Wasserstein to fresh data (floor: data vs data). Digits: Frechet distance in the
features of a classifier that saw only the held-out half (floor: training half vs held-out half),
confidence, class histogram. Own data (a file): FD to its held-out rows in fixed features (metrics.file_features;
floor: training rows vs held-out rows at equal n), and for vectors also sliced Wasserstein to them. Flows (final): straightness and the per-sample error of 1, 2, 10 NFE
against a `ref_nfe`-step solve from the same noise.
"""
from __future__ import annotations

import torch

from ml.train import metrics
from ml.train.ode import solve

EVAL_SEED = 104729


def eval_nfes(cfg):
    if cfg["schedule"] == "flow":
        return sorted({1, 2, 10, cfg["recommended"]["nfe"]})
    return [10]


@torch.no_grad()
def evaluate(net, cfg, data, p, device, final=False, schedule=None, chunk=None):
    """Returns (metrics dict, samples at the recommended NFE for the preview); schedule: the model's own when
    it is not a named one (a diffusers UNet's betas); chunk: samples per network call (a large UNet)."""
    g = torch.Generator(device=device).manual_seed(p.seed + EVAL_SEED)
    n = p.eval_samples
    z = torch.randn(n, *data.shape, generator=g, device=device)
    out, shown = {}, None
    for nfe in eval_nfes(cfg):
        x = solve(net, cfg, z, nfe, schedule=schedule, chunk=chunk)
        if nfe == cfg["recommended"]["nfe"]:
            shown = x
        if data.kind == "toy":
            out[f"sw_nfe{nfe}"] = metrics.sliced_wasserstein(x, data.fresh(n, g), g)
        elif data.held_out is not None:
            out[f"fd_nfe{nfe}"] = metrics.file_fd(x, data.held_out)
            if data.kind == "vectors":
                out[f"sw_nfe{nfe}"] = metrics.sliced_wasserstein(x, data.fresh(n, g), g)
        else:
            rep = metrics.digits_report(x)
            out[f"fd_nfe{nfe}"] = rep["fd"]
            if nfe == cfg["recommended"]["nfe"]:
                out["confidence"], out["class_hist"] = rep["confidence"], rep["class_hist"]
    if data.kind == "toy":
        out["sw_floor"] = metrics.sliced_wasserstein(data.fresh(n, g), data.fresh(n, g), g)
    elif data.held_out is not None:
        out["fd_floor"] = metrics.file_fd(data.sample(n, g), data.held_out)
        if data.kind == "vectors":
            out["sw_floor"] = metrics.sliced_wasserstein(data.sample(n, g), data.fresh(n, g), g)
    else:
        out["fd_floor"] = metrics.digits_fd_floor()
    if final:
        out.update(solver_errors(net, cfg, z[: min(n, 256)], p.ref_nfe, schedule, chunk))
    return out, shown


@torch.no_grad()
def solver_errors(net, cfg, z, ref_nfe, schedule=None, chunk=None):
    """Per-sample error of each evaluated NFE against a fine solve from the same noise (isolates solver
    error on the learned model, samplers note sec. 4), and the straightness of flows."""
    ref = solve(net, cfg, z, ref_nfe, "heun" if cfg["schedule"] == "flow" else "auto", schedule, chunk)
    out = {f"err_nfe{nfe}": metrics.rms_error(solve(net, cfg, z, nfe, schedule=schedule, chunk=chunk), ref)
           for nfe in eval_nfes(cfg)}
    if cfg["schedule"] == "flow":
        out["straightness"] = metrics.straightness(net, z)
        out["one_step_error"] = out["err_nfe1"]
    return out
