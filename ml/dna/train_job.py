"""`train` objectives of the DNA task: "masked_diffusion" (MDLM pretraining) and "oracle" (reward CNN).

Called by the train kind as `run(params.model_dump(), reporter)`; missing keys take the defaults below.
The pretrained model is saved with its EMA weights (MDLM evaluates and DRAKES starts from them).
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from ml import nets
from ml.device import resolve_device
from ml.dna import checkpoint, mdlm
from ml.dna.metrics import oracle_predict
from ml.dna.task import build as build_task
from ml.finite import check_loss
from ml.modelio import save_model
from ml.reporting import check_stop

DEFAULTS = {"steps": 1000, "batch_size": 128, "lr": None, "optimizer": "adamw", "split": 0, "width": None,
            "depth": None, "warmup_steps": 100, "ema_decay": 0.999, "grad_clip": 1.0, "checkpoint_every": 200,
            "eval_every": 0, "seed": 0, "device": "auto"}


def _get(params, key):
    v = params.get(key)
    return DEFAULTS.get(key) if v is None else v


def run(params: dict, reporter) -> dict:
    objective = params.get("objective", "masked_diffusion")
    if objective not in ("masked_diffusion", "oracle"):
        raise ValueError(f"ml.dna.train_job handles masked_diffusion and oracle, not {objective!r}")
    task = build_task(params.get("data") or {})
    device = resolve_device(_get(params, "device"))
    torch.manual_seed(_get(params, "seed"))
    if _get(params, "optimizer") != "adamw":
        reporter.log(f"optimizer {params.get('optimizer')!r} is not offered for DNA objectives; using adamw")
    if objective == "masked_diffusion":
        return _train(params, reporter, task, device, mdlm_setup(params, task, device))
    return _train(params, reporter, task, device, oracle_setup(params, task, device))


def mdlm_setup(params, task, device):
    width, depth = _get(params, "width") or 64, _get(params, "depth") or 10
    arch_kwargs = {"vocab": mdlm.VOCAB, "width": int(width), "depth": int(depth)}
    x_all = np.concatenate([task.labelled(0)[0], task.labelled(1)[0]])   # pretrain on all data, as the paper
    data = torch.as_tensor(x_all, device=device)

    def loss_fn(net, idx, g):
        return mdlm.nelbo_loss(net, data[idx], g)

    def evaluate(net, g):
        x = mdlm.sample(net, 256, task.length, 64, g, device)
        ll = task.log_likelihood(x.cpu().numpy())
        nat = task.log_likelihood(task.sample_natural(256, seed=12345))
        val = task.sample_natural(512, seed=54321)
        with torch.no_grad():
            val_loss = float(mdlm.nelbo_loss(net, torch.as_tensor(val, device=device), g))
        return {"val_nelbo_per_base": val_loss, "samples_exact_loglik_median": float(np.median(ll)),
                "natural_exact_loglik_median": float(np.median(nat)),
                "uniform_loglik": float(-task.length * np.log(4))}

    config = {"arch": "dnaconv", "arch_kwargs": arch_kwargs, "prediction": "masked", "vocab": "ACGT",
              "mask_token": mdlm.MASK, "task": task.params.model_dump(),
              "sampling": {"steps": 128, "schedule": "loglinear", "eps": mdlm.EPS}}
    return {"arch_kwargs": arch_kwargs, "n": len(data), "loss": loss_fn, "eval": evaluate, "config": config,
            "lr": 1e-3, "ema": True}


def oracle_setup(params, task, device):
    split = int(_get(params, "split"))
    width = _get(params, "width") or 64
    arch_kwargs = {"width": int(width)}
    x, y, acc = task.labelled(split)
    n_val = max(len(x) // 10, 32)
    xt = torch.nn.functional.one_hot(torch.as_tensor(x[n_val:], device=device), 4).float()
    yt, at = torch.as_tensor(y[n_val:], device=device), torch.as_tensor(acc[n_val:], device=device)

    def loss_fn(net, idx, g):
        out = net(xt[idx])
        return (torch.nn.functional.mse_loss(out[:, 0], yt[idx])
                + torch.nn.functional.binary_cross_entropy_with_logits(out[:, 1], at[idx]))

    def evaluate(net, g):
        p = oracle_predict(net, x[:n_val], device)
        pred, truth = p[:, 1] > 0, acc[:n_val] > 0.5
        rate = float(truth.mean())
        return {"val_mse": float(np.mean((p[:, 0] - y[:n_val]) ** 2)),
                "val_pearson": float(np.corrcoef(p[:, 0], y[:n_val])[0, 1]),
                "val_accessibility_acc": float((pred == truth).mean()),
                # what always answering the majority class scores: the head must beat it to mean anything
                "val_accessibility_baseline": max(rate, 1 - rate),
                "val_accessibility_balanced_acc": float((pred[truth].mean() if truth.any() else 1.0)
                                                        + (1 - pred[~truth].mean() if (~truth).any() else 1.0)) / 2,
                "label_var": float(np.var(y[:n_val]))}

    config = {"arch": "dna_oracle", "arch_kwargs": arch_kwargs, "prediction": "oracle", "split": split,
              "outputs": ["activity", "accessibility_logit"], "vocab": "ACGT", "task": task.params.model_dump()}
    return {"arch_kwargs": arch_kwargs, "n": len(xt), "loss": loss_fn, "eval": evaluate, "config": config,
            "lr": 1e-3, "ema": False}


def _train(params, reporter, task, device, s) -> dict:
    arch = s["config"]["arch"]
    net = nets.build(arch, **s["arch_kwargs"]).to(device)
    init = params.get("model") or {}
    if init.get("path"):   # start from an earlier model of the same objective and size
        from ml.modelio import load_model
        start_net, start_cfg = load_model(init["path"], device)
        if start_cfg.get("arch") != arch or start_cfg.get("arch_kwargs") != s["arch_kwargs"]:
            raise ValueError(f"model {init['path']} is a {start_cfg.get('arch')} {start_cfg.get('arch_kwargs')}, "
                             f"this job trains a {arch} {s['arch_kwargs']}")
        net.load_state_dict(start_net.state_dict())
        reporter.log(f"initialised from {init['path']}")
    ema = copy.deepcopy(net).requires_grad_(False)
    lr = _get(params, "lr") or s["lr"]
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    steps, bs = int(_get(params, "steps")), int(_get(params, "batch_size"))
    warmup, clip, decay = int(_get(params, "warmup_steps")), float(_get(params, "grad_clip")), float(_get(params, "ema_decay"))
    ckpt_dir, every = reporter.out_dir / "checkpoint", int(_get(params, "checkpoint_every"))
    g = torch.Generator(device=device).manual_seed(int(_get(params, "seed")))
    start = 0
    got = checkpoint.load(ckpt_dir, {"net": net, "ema": ema}, opt)
    if got is not None:
        start = got[0]
        g.manual_seed(int(_get(params, "seed")) + start)
        reporter.log(f"resumed from step {start}, attempt {reporter.attempt}")
    reporter.log(f"{s['config']['prediction']} {arch} {s['arch_kwargs']}, "
                 f"{sum(p.numel() for p in net.parameters())} parameters, {s['n']} training sequences, device {device}")
    t0, loss_ema, eval_every = time.time(), None, int(_get(params, "eval_every"))
    for step in range(start, steps):
        check_stop(reporter)
        for group in opt.param_groups:   # linear warm-up then constant, as MDLM
            group["lr"] = lr * min(1.0, (step + 1) / max(warmup, 1))
        idx = torch.randint(0, s["n"], (bs,), generator=g, device=device)
        loss = s["loss"](net, idx, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        with torch.no_grad():   # EMA with warm-up, so a short run's average is not mostly the initial weights
            d = min(decay, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1 - d)
        loss = check_loss(loss.detach(), step + 1)
        loss_ema = loss if loss_ema is None else 0.95 * loss_ema + 0.05 * loss
        if step % 10 == 0 or step == steps - 1:
            reporter.metric("loss", loss, step)
        if eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            for k, v in s["eval"](ema if s["ema"] else net, g).items():
                reporter.metric(f"eval/{k}", v, step)
        reporter.progress(step + 1, steps)
        if every and (step + 1) % every == 0 and step + 1 < steps:
            checkpoint.save(ckpt_dir, step + 1, {"net": net, "ema": ema}, opt)
    final = (ema if s["ema"] else net).eval()
    ev = s["eval"](final, g)
    reporter.log(f"done in {time.time() - t0:.1f}s: " + ", ".join(f"{k}={v:.4g}" for k, v in ev.items()))
    cfg = dict(s["config"], train={"steps": steps, "batch_size": bs, "lr": lr, "ema_decay": decay if s["ema"] else None})
    save_model(reporter.out_dir, final, cfg, reporter)
    return {"final_loss": loss_ema, "eval": ev, "objective": s["config"]["prediction"],
            "arch": arch, "arch_kwargs": s["arch_kwargs"], "weights": "ema" if s["ema"] else "raw",
            "optimizer": "adamw", "lr": lr}
