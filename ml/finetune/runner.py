"""`run(params, reporter)` of the finetune kind: load the three models, run the method, score, save."""
from __future__ import annotations

import copy
import time

import numpy as np
import torch

from ml.device import resolve_device
from ml.dna import mdlm
from ml.dna.fasta import write_fasta
from ml.dna.metrics import NO_GROUND_TRUTH
from ml.dna.metrics import evaluate as evaluate_samples
from ml.dna.problem import build as build_task
from ml.engine import Plan, fit, make_optimizer
from ml.finetune import cfg as cfg_mod
from ml.finetune import guidance
from ml.finetune.drakes import drakes_loss
from ml.finetune.params import Params
from ml.modelio import load_model, save_model
from ml.params import parse


def _load(ref, device, want):
    model, cfg = load_model(ref.path, device)
    if cfg.get("prediction") != want:
        raise ValueError(f"{ref.path}: expected a model with prediction {want!r}, got {cfg.get('prediction')!r}")
    return model.requires_grad_(False), cfg


def run(params, reporter) -> dict:
    p = parse(Params, params)
    device = resolve_device(p.device)
    torch.manual_seed(p.seed)
    g = torch.Generator(device=device).manual_seed(p.seed)
    pretrained, cfg = _load(p.model, device, "masked")
    oracle, ocfg = _load(p.reward, device, "oracle")
    eval_oracle, ecfg = _load(p.eval_reward, device, "oracle")
    task = build_task(cfg["task"]) if cfg.get("task") is not None else None
    if ocfg.get("split") == ecfg.get("split"):
        reporter.log("warning: reward and eval_reward were trained on the same split; the evaluation is not held out")
    L, t0 = _length(cfg, ocfg, ecfg), time.time()
    if task is None:
        reporter.log(f"finetune {p.method} on your own sequences ({(cfg.get('data') or {}).get('name')}, L={L}), "
                     f"device {device}; {NO_GROUND_TRUTH}")
        if p.method == "cfg":
            raise ValueError("method 'cfg' trains its conditional model on the synthetic task's labelled data, which a "
                             "model trained on your own FASTA does not carry; use drakes, best_of_n, cg, smc or tds")
    else:
        reporter.log(f"finetune {p.method} on DNA task L={L}, motifs {task.motifs}, device {device}")

    def score(x, **kw):
        return evaluate_samples(x, task, eval_oracle, device=device, reference_kmers=ecfg.get("reference_kmers"),
                                accessibility_head="accessibility_logit" in ecfg.get("outputs", ["accessibility_logit"]),
                                **kw)

    extra, sampler_net = {}, pretrained
    if p.method == "drakes":
        sampler_net, extra = finetune_drakes(pretrained, oracle, score, L, cfg, p, reporter, device, g)
        x = sample_chunks(sampler_net, p.n_samples, L, p.sampling_steps, g, device)
        extra["model_evals"] += p.n_samples * (p.sampling_steps + 1)
    elif p.method == "pretrained":
        x = sample_chunks(pretrained, p.n_samples, L, p.sampling_steps, g, device)
        extra = {"oracle_calls": 0, "model_evals": p.n_samples * (p.sampling_steps + 1)}
    elif p.method == "best_of_n":
        x, calls, evals = guidance.sample_best_of_n(pretrained, oracle, p.n_samples, L, p.sampling_steps, p.best_of_n, g, device)
        extra = {"oracle_calls": calls, "model_evals": evals, "best_of_n": p.best_of_n}
    elif p.method == "cg":
        x, calls, evals = guidance.sample_cg(pretrained, oracle, p.n_samples, L, p.sampling_steps, p.guidance_scale, g, device,
                                             p.guided_steps)
        extra = {"oracle_calls": calls, "model_evals": evals, "guidance_scale": p.guidance_scale,
                 "guided_steps": calls // p.n_samples}
    elif p.method in ("smc", "tds"):
        scale = p.guidance_scale if p.method == "tds" else 0.0
        x, calls, evals = guidance.sample_smc(pretrained, oracle, p.n_samples, L, p.sampling_steps, p.smc_alpha,
                                              p.particles, g, device, scale)
        extra = {"oracle_calls": calls, "model_evals": evals, "smc_alpha": p.smc_alpha, "particles": p.particles}
    elif p.method == "cfg":
        cond = cfg_mod.train_conditional(pretrained, cfg, task, p, reporter, device, g)
        x, calls, evals = cfg_mod.sample_cfg(cond, p.n_samples, L, p.sampling_steps, p.cfg_w, g, device)
        extra = {"oracle_calls": 0, "model_evals": evals + p.cfg_train_steps * 128, "cfg_w": p.cfg_w,
                 "cfg_note": "conditional model trained inside the job from the pretrained weights "
                             f"({p.cfg_train_steps} steps x 128 sequences on the reward oracle's half of the labelled data)"}
    x = x.cpu().numpy()
    res = score(x, pretrained=pretrained, reward_oracle=oracle, seed=p.seed)
    res.update(extra)
    res.update({"method": p.method, "seconds": time.time() - t0, "sampling_steps": p.sampling_steps,
                "inputs": {k: getattr(p, k).model_dump(exclude_none=True) for k in ("model", "reward", "eval_reward")}})
    out = reporter.out_dir
    np.save(out / "samples.npy", x.astype(np.int8))
    reporter.artifact("samples.npy", out / "samples.npy", "samples")
    write_fasta(out / "sequences.fasta", x, task.true_activity(x) if task is not None else None)
    reporter.artifact("sequences.fasta", out / "sequences.fasta", "sequences")
    reporter.log(", ".join(f"{k}={v:.4g}" for k, v in res.items() if isinstance(v, float)))
    return res


def sample_chunks(net, n, length, steps, g, device, chunk=512):
    return torch.cat([mdlm.sample(net, min(chunk, n - s), length, steps, g, device) for s in range(0, n, chunk)])


def recorded_length(cfg) -> int | None:
    """The sequence length a DNA model's model.json records: its task's, or its own data's."""
    length = (cfg.get("task") or {}).get("length") or (cfg.get("data") or {}).get("length")
    return int(length) if length else None


def _length(cfg, ocfg, ecfg) -> int:
    length = recorded_length(cfg)
    if length is None:
        raise ValueError("model: its model.json records neither a DNA task nor the length of its own data")
    for field, other in (("reward", ocfg), ("eval_reward", ecfg)):
        if recorded_length(other) not in (None, length):
            raise ValueError(f"{field}: the oracle learned sequences of {recorded_length(other)} bases; the model "
                             f"generates {length}")
    return length


def finetune_drakes(pretrained, oracle, score, length, cfg, p, reporter, device, g):
    net = copy.deepcopy(pretrained).requires_grad_(True).train()
    opt = make_optimizer("adam", net.parameters(), p.lr)
    K = min(p.truncate_steps, p.sampling_steps)
    reporter.log(f"DRAKES: alpha={p.alpha}, K={K} of N={p.sampling_steps} steps, tau={p.temperature}, "
                 f"KL={p.kl}{' (truncated)' if p.truncate_kl else ''}, {p.batch_size}x{p.grad_accum} trajectories/step, lr={p.lr}")

    def loss(model, step, gen):
        value, reward, kl = drakes_loss(model, pretrained, oracle, p, length, gen, device)
        return value, {"reward": reward, "kl": kl}

    def evaluate(done):
        net.eval()
        xe = mdlm.sample(net, p.eval_samples, length, p.sampling_steps, g, device).cpu().numpy()
        for k, v in score(xe).items():
            if k != "n_samples" and isinstance(v, (int, float)):
                reporter.metric(f"eval/{k}", v, done)
        net.train()

    # every step's reward and KL; an evaluation after the first step and every eval_every, the last included
    plan = Plan(steps=p.steps, lr=p.lr, grad_clip=p.grad_clip, grad_accum=p.grad_accum,
                batch_size=p.batch_size * p.grad_accum, log_every=1, checkpoint_every=p.checkpoint_every,
                check_grad_norm=True)
    fit(plan, net, opt, loss, reporter, g, evaluate=evaluate,
        eval_at=lambda done: bool(p.eval_every) and (done % p.eval_every == 0 or done == 1), device=device)
    net.eval().requires_grad_(False)
    ft_cfg = dict(cfg, finetune={"method": "drakes", "alpha": p.alpha, "truncate_steps": K, "temperature": p.temperature,
                                 "steps": p.steps, "kl": p.kl, "lr": p.lr, "sampling_steps": p.sampling_steps,
                                 # lineage: a later job (quantize) scores this model's samples with the same oracles
                                 "reward": p.reward.model_dump(exclude_none=True),
                                 "eval_reward": p.eval_reward.model_dump(exclude_none=True)})
    save_model(reporter.out_dir, net, ft_cfg, reporter)
    calls = p.steps * p.batch_size * p.grad_accum
    # per trajectory: N sampling calls, plus the pretrained model (and the new one for textbook) on KL steps
    kl_steps = 0 if p.alpha == 0 else (K if (p.kl == "repo" or p.truncate_kl) else p.sampling_steps)
    per_traj = p.sampling_steps + kl_steps * (1 if p.kl == "repo" else 2)
    return net, {"oracle_calls": calls, "model_evals": calls * per_traj, "alpha": p.alpha, "truncate_steps": K,
                 "temperature": p.temperature, "kl": p.kl, "steps": p.steps, "lr": p.lr}
