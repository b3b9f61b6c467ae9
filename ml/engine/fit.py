"""The one training loop of every kind that trains: train's objectives, the DNA objectives, DRAKES, CFG.

A kind builds its network and optimiser and hands `fit` a `loss(model, step, generator)`; the
engine owns the rest. Per step (0-based `step`, reported as `done = step + 1`):

    stop requested?  -> checkpoint at `step`, raise Cancelled (DDP: every rank leaves at the same step)
    LR               <- warm-up, then cosine or constant (optim.lr_at)
    grad_accum x     loss(model, step, generator) -> backward of loss / grad_accum
    non-finite?      -> Diverged naming the step (the loss; with check_grad_norm the grad norm too)
    clip, optimiser step, weight EMA (optim.ema_update)
    every log_every: smoothed loss, LR, grad norm, samples/s and the loss's extras, as metrics
    eval_at(done):   the kind's evaluate(done)
    progress, and every checkpoint_every (and at the end) a checkpoint

A checkpoint (ml/checkpoint.py) holds the modules, the optimizer, the generator (the only source
of the run's randomness: batches, noise, times, the kind's evaluations), torch's global RNG and
the loop's counters, so a resumed run ends bit for bit where an uninterrupted one ends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ml import checkpoint
from ml.engine.optim import ema_update, lr_at
from ml.finite import check_loss
from ml.reporting import Cancelled

LOSS_SMOOTHING = 0.98  # EMA of the loss for the live curve and final_loss (bias-corrected)


@dataclass
class Plan:
    """How a run trains; everything that is not the loss."""
    steps: int
    lr: float
    schedule: str = "constant"     # after the warm-up: "cosine" to 0, or "constant"
    warmup_steps: int = 0
    ema_decay: float = 0.999       # used when fit is given an EMA module
    grad_clip: float = 0.0         # 0: no clipping (the norm is still measured)
    grad_accum: int = 1            # micro-batches per optimiser step
    batch_size: int = 1            # examples per optimiser step, for samples/s
    log_every: int = 10
    checkpoint_every: int = 0      # 0: only on a stop request and at the end
    check_grad_norm: bool = False  # a finite loss can still have an infinite gradient (DRAKES' Gumbel path)
    prefix: str = ""               # metric names: "cfg/" gives "cfg/loss", and "cfg loss is nan" when diverged


@dataclass
class Fitted:
    start: int                     # the step the run resumed from (0: a fresh run)
    final_loss: float              # the smoothed loss after the last step
    state: dict = field(default_factory=dict)


def every(n: int, steps: int) -> Callable[[int], bool]:
    """eval_at: every n steps, not at the last one (the kind evaluates its final model itself); 0 = never."""
    return lambda done: bool(n) and done % n == 0 and done < steps


def smoothed(state: dict) -> float:
    n = state["loss_ema_n"]
    return state["loss_ema"] / (1 - LOSS_SMOOTHING ** n) if n else float("nan")


def _collective_stop(stop: bool, world: int, device) -> bool:
    if world == 1:
        return stop
    import torch.distributed as dist

    flag = torch.tensor([float(stop)], device=device)
    dist.all_reduce(flag)  # every rank leaves at the same step, none hangs in a collective
    return flag.item() > 0


def _from_lead(ck, device):
    """The lead rank's checkpoint on every rank: the other ranks may run on nodes that never saw the
    job's folder, and all of them must resume from the same step with the same generator state."""
    import torch.distributed as dist

    box, device = [ck], torch.device(device)
    dist.broadcast_object_list(box, src=0, device=device if device.type == "cuda" else None)
    return box[0]


def fit(plan: Plan, net, opt, loss_fn, reporter, generator, *, ema=None, evaluate=None, eval_at=None,
        state: dict | None = None, rank: int = 0, world: int = 1, device="cpu") -> Fitted:
    """Train `net` in place from `<out_dir>/checkpoint` if one is there; `state` (the kind's counters, JSON)
    is saved with each checkpoint and restored in place. `evaluate(done)` runs on the lead rank only."""
    lead = rank == 0
    state = state if state is not None else {}
    loop = {"loss_ema": 0.0, "loss_ema_n": 0}
    modules = {"net": net} if ema is None else {"net": net, "ema": ema}
    folder = reporter.out_dir / "checkpoint"
    start = 0
    ck = checkpoint.load(folder) if lead or world == 1 else None
    if world > 1:
        ck = _from_lead(ck, device)
    if ck is not None:
        checkpoint.unpack(ck, modules, opt, {"train": generator}, device)
        start = ck.step
        loop.update(ck.meta["loop"])
        state.update(ck.meta["state"])
        if lead:
            reporter.log(f"resumed from step {start}, attempt {reporter.attempt}")

    def save(step):
        if lead:
            tensors, meta = checkpoint.pack(modules, opt, {"train": generator})
            checkpoint.save(folder, step, tensors, {**meta, "loop": loop, "state": state})

    model = net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        import torch.distributed as dist

        model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    eval_at = eval_at or (lambda done: False)
    clip = plan.grad_clip if plan.grad_clip > 0 else float("inf")
    label = plan.prefix.replace("/", " ")
    t_win, n_win = time.perf_counter(), 0
    for step in range(start, plan.steps):
        if _collective_stop(reporter.should_stop() if lead else False, world, device):
            save(step)
            raise Cancelled(f"stopped at step {step}; checkpoint saved")
        lr = lr_at(step, plan.lr, plan.warmup_steps, plan.steps, plan.schedule)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        total, extras = 0.0, {}
        for _ in range(plan.grad_accum):
            out = loss_fn(model, step, generator)
            loss, more = out if isinstance(out, tuple) else (out, {})
            loss = loss.mean()
            if plan.grad_accum == 1:  # no scaling ops: a small net's step is a few dozen kernels
                loss.backward()
                total = loss.detach()
            else:
                (loss / plan.grad_accum).backward()
                total = total + loss.detach() / plan.grad_accum
            for k, v in more.items():
                extras.setdefault(k, []).append(v.detach().reshape(-1))
        if world > 1:
            dist.all_reduce(total)
            total = total / world
        # every rank holds the same reduced loss, so all of them stop at this step (none waits in a collective)
        loss_f = check_loss(total, step + 1, f"{label}loss")
        gnorm = torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        if plan.check_grad_norm:
            check_loss(gnorm, step + 1, f"{label}grad norm")
        opt.step()
        if ema is not None:
            ema_update(ema, net, plan.ema_decay, step)
        loop["loss_ema"] = LOSS_SMOOTHING * loop["loss_ema"] + (1 - LOSS_SMOOTHING) * loss_f
        loop["loss_ema_n"] += 1
        done = step + 1
        n_win += 1
        if lead and (done % plan.log_every == 0 or done == plan.steps):
            now = time.perf_counter()
            reporter.metric(f"{plan.prefix}loss", smoothed(loop), done)
            reporter.metric(f"{plan.prefix}lr", lr, done)
            reporter.metric(f"{plan.prefix}grad_norm", float(gnorm), done)
            reporter.metric(f"{plan.prefix}samples_per_s", n_win * plan.batch_size / max(now - t_win, 1e-9), done)
            for k, v in extras.items():
                reporter.metric(f"{plan.prefix}{k}", float(torch.cat(v).mean()), done)
            t_win, n_win = now, 0
        if lead and evaluate is not None and eval_at(done):
            evaluate(done)
        if lead:
            reporter.progress(done, plan.steps)
        if plan.checkpoint_every and done % plan.checkpoint_every == 0 and done < plan.steps:
            save(done)
    if start < plan.steps:
        save(plan.steps)
    return Fitted(start, smoothed(loop), state)
