"""One place that turns `params.objective` into (a per-sample loss of one batch, the model's config).

Every loss draws its global batch from the shared generator and keeps this rank's slice, so with
DDP each process sees a disjoint part of exactly the batch a single process would draw; DDP's
gradient average of the slice means is then the single-process gradient of the global mean.
"""
from __future__ import annotations

import math

import torch

from ml.train import diffusers_unet, flow, slimflow, vp
from ml.train.ode import solve

VP_PREDICTION = {"vp_eps": "eps", "vp_x0": "x0", "vp_v": "v"}
FLOW_OBJECTIVES = ("rectified_flow", "reflow", "distill", "slimflow")


def model_config(p, data_shape, arch, arch_kwargs, teacher_cfg=None):
    flow_like = p.objective in FLOW_OBJECTIVES
    if p.objective == "distill":
        nfe, sampler = p.distill_steps, "rf_euler"
    elif p.objective == "slimflow":
        nfe, sampler = 1, "rf_euler"
    elif flow_like:
        nfe, sampler = 10, "rf_euler"
    else:
        nfe, sampler = 10, "dpm_solver_pp_2m"
    cfg = {
        "arch": arch, "arch_kwargs": arch_kwargs,
        "prediction": "flow" if flow_like else VP_PREDICTION[p.objective],
        "schedule": "flow" if flow_like else "vp_linear",
        "data_shape": list(data_shape), "data": p.data.model_dump(), "objective": p.objective,
        "recommended": {"sampler": sampler, "nfe": nfe},
        "train": {k: v for k, v in p.model_dump().items() if k not in ("data", "model")},
    }
    if p.model is not None:
        cfg["parent"] = {"artifact": p.model.artifact, "path": p.model.path}
        if teacher_cfg is not None:
            cfg["parent"]["objective"] = teacher_cfg.get("objective")
    return cfg


@torch.no_grad()
def teacher_pairs(teacher, tcfg, p, data_shape, device):
    """(z, x0 = teacher ODE solution from z) pairs, drawn with their own seeded generator so that a
    resumed job regenerates exactly the same pairs."""
    g = torch.Generator(device=device).manual_seed(p.seed + 7919)
    z = torch.randn(p.reflow_pairs, *data_shape, generator=g, device=device)
    out = []
    for chunk in z.split(1024):
        sampler = "heun" if tcfg["schedule"] == "flow" and p.teacher_sampler == "auto" else p.teacher_sampler
        out.append(solve(teacher, tcfg, chunk, p.teacher_nfe, sampler))
    return z, torch.cat(out)


def make_loss(p, data, rank, world, teacher=None, pairs=None, table=None):
    """Returns loss(net, step, generator) -> per-sample losses of this rank's slice. table: a diffusers UNet's
    discrete schedule (diffusers_unet.alpha_sigma_table), trained at its integer timesteps."""
    B = p.batch_size
    b = B // world
    rs = slice(rank * b, (rank + 1) * b)
    shape = data.shape
    dist = flow.DISTANCES[p.loss]

    def noise(g, dev):
        return torch.randn(B, *shape, generator=g, device=dev)[rs]

    if p.objective in VP_PREDICTION and table is not None:
        pred = VP_PREDICTION[p.objective]

        def loss(net, step, g):
            x0 = data.sample(B, g)[rs]
            eps = noise(g, x0.device)
            n = diffusers_unet.sample_timesteps(B, g, table)[rs]
            return diffusers_unet.discrete_vp_loss(net, x0, eps, n, table, pred, dist)

        return loss
    if p.objective in VP_PREDICTION:
        pred = VP_PREDICTION[p.objective]

        def loss(net, step, g):
            x0 = data.sample(B, g)[rs]
            eps = noise(g, x0.device)
            t = vp.sample_vp_t(B, g, x0.device)[rs]
            return vp.vp_loss(net, x0, eps, t, pred, dist)

        return loss
    if p.objective == "rectified_flow":
        def loss(net, step, g):
            x0 = data.sample(B, g)[rs]
            z = noise(g, x0.device)
            t = flow.sample_flow_t(B, g, x0.device, p.timesteps)[rs]
            return flow.flow_loss(net, x0, z, t, dist)

        return loss
    z_all, x_all = pairs

    def pair_batch(g):
        idx = torch.randint(0, len(z_all), (B,), generator=g, device=z_all.device)[rs]
        return z_all[idx], x_all[idx]

    if p.objective == "reflow":
        def loss(net, step, g):
            z, x0 = pair_batch(g)
            t = flow.sample_flow_t(B, g, z.device, p.timesteps)[rs]
            return flow.flow_loss(net, x0, z, t, dist)

        return loss
    if p.objective == "distill":
        def loss(net, step, g):
            z, x0 = pair_batch(g)
            t = flow.distill_t(B, g, z.device, p.distill_steps)[rs]
            return flow.flow_loss(net, x0, z, t, dist)

        return loss
    if p.objective == "slimflow":
        anneal_steps = int(math.ceil(p.slimflow_anneal * p.steps))

        def loss(net, step, g):
            z, x0 = pair_batch(g)
            if step < anneal_steps:
                z_rand = noise(g, z.device)
                t = flow.sample_flow_t(B, g, z.device, p.timesteps)[rs]
                beta = slimflow.anneal_beta(step, anneal_steps)
                return slimflow.annealing_reflow_loss(net, x0, z, z_rand, t, beta, dist)
            t = torch.rand(B, generator=g, device=z.device)[rs]
            return slimflow.flow_guided_distill_loss(net, teacher, x0, z, t, dist, p.slimflow_guidance)

        return loss
    raise ValueError(f"objective {p.objective!r} is not a continuous objective")
