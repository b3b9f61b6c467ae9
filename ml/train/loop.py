"""Training of every continuous objective, single process or one DDP rank, on the engine (ml.engine.fit).

This module supplies what is particular to the continuous objectives: data, teacher pairs, the network,
the loss of the objective (objectives.py) and the evaluation of the EMA model (a preview PNG every second
evaluation); a VP objective given a diffusers UNet trains that in place of a network of ours (diffusers_unet.py).
The engine runs the steps: cosine LR after the warm-up, EMA, clipping, checkpoints and resume.
"""
from __future__ import annotations

import time

import torch

from ml import nets
from ml.data import make_dataset
from ml.device import generator, resolve_device
from ml.engine import Plan, every, fit, make_ema, make_optimizer
from ml.modelio import load_model, save_model
from ml.train import diffusers_unet
from ml.train.evaluate import evaluate
from ml.train.objectives import make_loss, model_config, teacher_pairs
from ml.train.preview import save_preview


def build_net(p, data_shape, teacher=None, tcfg=None):
    """(net, arch, arch_kwargs); reflow/distill start from the teacher's weights when asked (rfpp sec. 4.3)."""
    # only a flow teacher's weights mean the same thing to a flow student (a VP net predicts eps, not v)
    if (teacher is not None and p.init_from_teacher and p.objective in ("reflow", "distill")
            and tcfg["schedule"] == "flow"):
        net = nets.build(tcfg["arch"], **tcfg["arch_kwargs"])
        net.load_state_dict(teacher.state_dict())
        return net, tcfg["arch"], dict(tcfg["arch_kwargs"])
    arch = p.arch if p.arch != "auto" else ("mlp" if len(data_shape) == 1 else "unet")
    if arch == "mlp":
        name, kw = "mlp2d", {"dim": int(torch.Size(data_shape).numel()), "width": p.width, "depth": p.depth}
    else:
        if len(data_shape) != 3:
            raise ValueError("the UNet needs image data (digits)")
        # a UNet channel carries a whole 3x3 neighbourhood: a quarter of the MLP width gives similar capacity
        name, kw = "unet8", {"channels": data_shape[0], "width": max(8, p.width // 4), "depth": p.depth}
    return nets.build(name, **kw), name, kw


def train(p, reporter, rank=0, world=1, device=None):
    device = device or resolve_device(p.device)
    t_start = time.perf_counter()
    lead = rank == 0
    if p.data.type == "file":
        p.data.file()   # a terminal run that names an artifact by id only is told what to give instead
    data = make_dataset(p.data.model_dump(), device)
    teacher = tcfg = pairs = None
    if p.objective in ("reflow", "distill", "slimflow"):
        if p.model is None or p.model.path is None:
            raise ValueError(f"objective {p.objective!r} needs 'model' (the teacher) with a path")
        teacher, tcfg = load_model(p.model.path, device)
        if list(tcfg["data_shape"]) != list(data.shape):
            raise ValueError(f"teacher data_shape {tcfg['data_shape']} != data shape {list(data.shape)}")
        if p.objective == "slimflow" and tcfg["schedule"] != "flow":
            raise ValueError("slimflow's flow-guided distillation needs a rectified-flow teacher (e.g. a reflow model)")
        for q in teacher.parameters():
            q.requires_grad_(False)
        t0 = time.perf_counter()
        pairs = teacher_pairs(teacher, tcfg, p, data.shape, device)
        if lead:
            reporter.log(f"{p.reflow_pairs} teacher pairs ({p.teacher_nfe} NFE each) in {time.perf_counter() - t0:.1f} s")
    torch.manual_seed(p.seed)
    schedule = table = None  # a diffusers UNet's own discrete schedule, when the job continues training one
    if diffusers_unet.continues(p):
        net, unet_cfg, schedule = diffusers_unet.load(p.model.path, data.shape, device)
        arch, arch_kw = unet_cfg["arch"], {}
        cfg = diffusers_unet.model_config(p, unet_cfg)
        table = diffusers_unet.alpha_sigma_table(schedule, device)
    else:
        net, arch, arch_kw = build_net(p, data.shape, teacher, tcfg)
        cfg = model_config(p, data.shape, arch, arch_kw, tcfg)
    net = net.to(device)
    ema = make_ema(net)
    opt = make_optimizer(p.optimizer, net.parameters(), p.lr, p.weight_decay)
    gen = generator(p.seed + 1, device)
    n_params = sum(q.numel() for q in net.parameters())
    if lead:
        reporter.log(f"training {p.objective} on {p.data.type}: {arch} {arch_kw}, {n_params} parameters, "
                     f"{p.optimizer} lr {p.lr}, batch {p.batch_size} x {world} process(es), {p.steps} steps")
    plan = Plan(steps=p.steps, lr=p.lr, schedule="cosine", warmup_steps=p.warmup_steps, ema_decay=p.ema_decay,
                grad_clip=p.grad_clip, batch_size=p.batch_size, log_every=p.log_every,
                checkpoint_every=p.checkpoint_every)
    state = {"evals": 0}
    fitted = fit(plan, net, opt, make_loss(p, data, rank, world, teacher, pairs, table), reporter, gen, ema=ema,
                 evaluate=lambda done: run_eval(ema, cfg, data, p, device, reporter, done, state, False, schedule),
                 eval_at=every(p.eval_every, p.steps), state=state, rank=rank, world=world, device=device)
    if not lead:
        return None
    last_eval = run_eval(ema, cfg, data, p, device, reporter, p.steps, state, True, schedule)
    if table is not None:
        diffusers_unet.save(reporter.out_dir, ema, p.model.path, p.objective, reporter)
    else:
        save_model(reporter.out_dir, ema, {**cfg, "n_params": n_params}, reporter)
    reporter.log(f"done: final loss {fitted.final_loss:.4g}; eval {compact(last_eval)}")
    return {"final_loss": fitted.final_loss, "eval": last_eval, "objective": p.objective, "arch": arch,
            "arch_kwargs": arch_kw, "n_params": n_params, "steps": p.steps, "resumed_from": fitted.start or None,
            "world_size": world, "prediction": cfg["prediction"], "schedule": cfg["schedule"],
            "recommended": cfg["recommended"], "device": str(device),
            "seconds": round(time.perf_counter() - t_start, 3),
            **({"prediction_type": cfg["prediction_type"]} if table is not None else {})}


def compact(ev):
    return {k: round(v, 4) for k, v in ev.items() if isinstance(v, float)}


def run_eval(ema, cfg, data, p, device, reporter, step, state, final, schedule=None):
    # a diffusers UNet may be large: its samples go through it a training batch at a time, which fits
    chunk = p.batch_size if schedule is not None else None
    ev, shown = evaluate(ema, cfg, data, p, device, final=final, schedule=schedule, chunk=chunk)
    for k, v in ev.items():
        if isinstance(v, float):
            reporter.metric(f"eval_{k}", v, step)
    state["evals"] += 1
    if final or state["evals"] % 2 == 1:
        g = torch.Generator(device=device).manual_seed(p.seed)
        ref = data.fresh(len(shown), g) if data.kind in ("toy", "vectors") else None
        path = save_preview(reporter.out_dir / f"preview_step{step}.png", shown, ref,
                            f"{p.objective} step {step}, {cfg['recommended']['nfe']} NFE")
        reporter.artifact(path.name, path, "image")
    return ev
