"""The training loop shared by every continuous objective, single process or one DDP rank.

Per step: draw the batch from the run's generator, loss, backward, clip, optimiser step at the
scheduled LR, EMA update; every `log_every` steps report smoothed loss, LR, grad-norm and samples/s;
every `eval_every` steps evaluate the EMA model (a preview PNG every second evaluation); every
`checkpoint_every` steps, on a stop request and at the end save a resumable checkpoint. A run that
finds a checkpoint continues from it and reaches the same final state as an uninterrupted run.
"""
from __future__ import annotations

import time

import torch

from ml import nets
from ml.data import make_dataset
from ml.device import generator, resolve_device
from ml.finite import check_loss
from ml.modelio import load_model, save_model
from ml.reporting import Cancelled
from ml.train.checkpoint import load_checkpoint, save_checkpoint
from ml.train.evaluate import evaluate
from ml.train.objectives import make_loss, model_config, teacher_pairs
from ml.train.optim import ema_update, lr_at, make_ema, make_optimizer
from ml.train.preview import save_preview

LOSS_SMOOTHING = 0.98  # EMA of the loss for the live curve and final_loss (bias-corrected)


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
    net, arch, arch_kw = build_net(p, data.shape, teacher, tcfg)
    net = net.to(device)
    ema = make_ema(net)
    opt = make_optimizer(p.optimizer, net.parameters(), p.lr, p.weight_decay)
    gen = generator(p.seed + 1, device)
    cfg = model_config(p, data.shape, arch, arch_kw, tcfg)
    n_params = sum(q.numel() for q in net.parameters())
    loss_fn = make_loss(p, data, rank, world, teacher, pairs)

    ckpt_dir = reporter.out_dir / "checkpoint"
    start, state = 0, {"loss_ema": 0.0, "loss_ema_n": 0, "evals": 0}
    restored = load_checkpoint(ckpt_dir, net, ema, opt, gen, device)
    if restored is not None:
        start, state = restored
        if lead:
            reporter.log(f"resumed from step {start}, attempt {reporter.attempt}")
    elif lead:
        reporter.log(f"training {p.objective} on {p.data.type}: {arch} {arch_kw}, {n_params} parameters, "
                     f"{p.optimizer} lr {p.lr}, batch {p.batch_size} x {world} process(es), {p.steps} steps")
    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)

    def checkpoint(step):
        if lead:
            save_checkpoint(ckpt_dir, step, net, ema, opt, gen, state)

    last_eval = None
    t_win, n_win = time.perf_counter(), 0
    for step in range(start, p.steps):
        stop = reporter.should_stop() if lead else False
        if world > 1:
            import torch.distributed as dist

            flag = torch.tensor([float(stop)], device=device)
            dist.all_reduce(flag)  # every rank leaves at the same step, none hangs in a collective
            stop = flag.item() > 0
        if stop:
            checkpoint(step)
            raise Cancelled(f"stopped at step {step}; checkpoint saved")
        lr = lr_at(step, p.lr, p.warmup_steps, p.steps)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_fn(model, step, gen).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), p.grad_clip if p.grad_clip > 0 else float("inf"))
        opt.step()
        ema_update(ema, net, p.ema_decay, step)
        loss_val = loss.detach()
        if world > 1:
            dist.all_reduce(loss_val)
            loss_val = loss_val / world
        # every rank holds the same reduced loss, so all of them stop at this step (none waits in a collective)
        loss_f = check_loss(loss_val, step + 1)
        state["loss_ema"] = LOSS_SMOOTHING * state["loss_ema"] + (1 - LOSS_SMOOTHING) * loss_f
        state["loss_ema_n"] += 1
        done = step + 1
        n_win += 1
        if lead:
            reporter.progress(done, p.steps)
            if done % p.log_every == 0 or done == p.steps:
                now = time.perf_counter()
                reporter.metric("loss", smoothed(state), done)
                reporter.metric("lr", lr, done)
                reporter.metric("grad_norm", float(gnorm), done)
                reporter.metric("samples_per_s", n_win * p.batch_size / max(now - t_win, 1e-9), done)
                t_win, n_win = now, 0
            if done % p.eval_every == 0 and done != p.steps:
                last_eval = run_eval(ema, cfg, data, p, device, reporter, done, state, final=False)
        if done % p.checkpoint_every == 0 and done != p.steps:
            checkpoint(done)
    checkpoint(p.steps)
    if not lead:
        return None
    last_eval = run_eval(ema, cfg, data, p, device, reporter, p.steps, state, final=True)
    save_model(reporter.out_dir, ema, {**cfg, "n_params": n_params}, reporter)
    reporter.log(f"done: final loss {smoothed(state):.4g}; eval {compact(last_eval)}")
    return {"final_loss": smoothed(state), "eval": last_eval, "objective": p.objective, "arch": arch,
            "arch_kwargs": arch_kw, "n_params": n_params, "steps": p.steps, "resumed_from": start or None,
            "world_size": world, "prediction": cfg["prediction"], "schedule": cfg["schedule"],
            "recommended": cfg["recommended"], "device": str(device),
            "seconds": round(time.perf_counter() - t_start, 3)}


def smoothed(state):
    n = state["loss_ema_n"]
    return state["loss_ema"] / (1 - LOSS_SMOOTHING ** n) if n else float("nan")


def compact(ev):
    return {k: round(v, 4) for k, v in ev.items() if isinstance(v, float)}


def run_eval(ema, cfg, data, p, device, reporter, step, state, final):
    ev, shown = evaluate(ema, cfg, data, p, device, final=final)
    for k, v in ev.items():
        if isinstance(v, float):
            reporter.metric(f"eval_{k}", v, step)
    state["evals"] += 1
    if final or state["evals"] % 2 == 1:
        g = torch.Generator(device=device).manual_seed(p.seed)
        ref = data.fresh(len(shown), g) if data.kind == "toy" else None
        path = save_preview(reporter.out_dir / f"preview_step{step}.png", shown, ref,
                            f"{p.objective} step {step}, {cfg['recommended']['nfe']} NFE")
        reporter.artifact(path.name, path, "image")
    return ev
