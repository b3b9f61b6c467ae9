"""`train` objectives of the DNA task: "masked_diffusion" (MDLM pretraining) and "oracle" (reward CNN).

`run(params, reporter)` with params one of the train kind's DNA branches (MaskedDiffusionParams,
OracleParams in ml/train/params.py) or a dict of one; the engine (ml.engine.fit) trains, with a
constant LR after the warm-up, as MDLM. The pretrained model is saved with its EMA weights (MDLM
evaluates and DRAKES starts from them); an oracle with its raw weights.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ml import nets
from ml.device import resolve_device
from ml.dna import mdlm
from ml.dna.metrics import kmer_corr, kmer_frequencies, oracle_predict
from ml.dna.params import DnaFiles
from ml.dna.problem import build as build_problem
from ml.dna.records import FastaData, fasta_data
from ml.engine import Plan, every, fit, make_ema, make_optimizer
from ml.modelio import load_model, save_model
from ml.train.params import MaskedDiffusionParams, OracleParams, Params

def run(params, reporter) -> dict:
    p = Params.model_validate(params)
    if not isinstance(p, (MaskedDiffusionParams, OracleParams)):
        raise ValueError(f"ml.dna.train_job handles masked_diffusion and oracle, not {p.objective!r}")
    if isinstance(p.data, DnaFiles):
        p.data.file()   # a terminal run that names an artifact by id only is told what to give instead
        if p.data.labels is not None:
            p.data.labels.file("data.labels")
    problem = fasta_data(p.data) if isinstance(p.data, DnaFiles) else build_problem(p.data)
    device = resolve_device(p.device)
    torch.manual_seed(p.seed)
    setup = mdlm_setup if p.objective == "masked_diffusion" else oracle_setup
    return _train(p, reporter, device, setup(p, problem, device))


def mdlm_setup(p, task, device):
    arch_kwargs = {"vocab": mdlm.VOCAB, "width": p.width, "depth": p.depth}
    if isinstance(task, FastaData):
        x_all, held = task.pretraining()
    else:
        x_all = np.concatenate([task.labelled(0)[0], task.labelled(1)[0]])   # pretrain on all data, as the paper
    data = torch.as_tensor(x_all, device=device)

    def loss_fn(net, step, g):
        idx = torch.randint(0, len(data), (p.batch_size,), generator=g, device=device)
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

    def evaluate_own(net, g):
        """Real sequences have no generator to score samples by: the held-out NELBO, and how close the
        samples' 3-mer spectrum is to the held-out sequences' (the paper's 3-mer Corr, against all of them)."""
        x = mdlm.sample(net, 256, task.length, 64, g, device).cpu().numpy()
        with torch.no_grad():
            val_loss = float(mdlm.nelbo_loss(net, torch.as_tensor(held[:2048], device=device), g))
        return {"val_nelbo_per_base": val_loss, "samples_kmer_corr_held_out": kmer_corr(x, held),
                "uniform_nelbo_per_base": float(np.log(4))}

    config = {"arch": "dnaconv", "arch_kwargs": arch_kwargs, "prediction": "masked", "vocab": "ACGT",
              "mask_token": mdlm.MASK, **_data_record(task),
              "sampling": {"steps": 128, "schedule": "loglinear", "eps": mdlm.EPS}}
    if isinstance(task, FastaData):
        evaluate = evaluate_own
    return {"arch_kwargs": arch_kwargs, "n": len(data), "loss": loss_fn, "eval": evaluate, "config": config,
            "ema": True}


def _data_record(task) -> dict:
    """model.json's record of the data: the synthetic task ("task", the ground truth later jobs rebuild), or
    a FASTA's description ("data": no ground truth exists)."""
    return {"data": task.describe()} if isinstance(task, FastaData) else {"task": task.params.model_dump()}


def oracle_setup(p, task, device):
    split = p.split
    arch_kwargs = {"width": p.width}
    x, y, acc = task.labelled(split)
    # a small half (own data) keeps a tenth for validation; the synthetic task's halves are thousands
    n_val = max(len(x) // 10, min(32, len(x) // 4), 2)
    xt = torch.nn.functional.one_hot(torch.as_tensor(x[n_val:], device=device), 4).float()
    yt = torch.as_tensor(y[n_val:], device=device)
    at = torch.as_tensor(acc[n_val:], device=device) if acc is not None else None

    def loss_fn(net, step, g):
        idx = torch.randint(0, len(xt), (p.batch_size,), generator=g, device=device)
        out = net(xt[idx])
        loss = torch.nn.functional.mse_loss(out[:, 0], yt[idx])
        if at is None:   # no accessibility labels: the second head stays untrained, and says so in model.json
            return loss
        return loss + torch.nn.functional.binary_cross_entropy_with_logits(out[:, 1], at[idx])

    def evaluate(net, g):
        p = oracle_predict(net, x[:n_val], device)
        scores = {"val_mse": float(np.mean((p[:, 0] - y[:n_val]) ** 2)),
                  "val_pearson": float(np.corrcoef(p[:, 0], y[:n_val])[0, 1]), "label_var": float(np.var(y[:n_val]))}
        if acc is None:
            return scores
        pred, truth = p[:, 1] > 0, acc[:n_val] > 0.5
        rate = float(truth.mean())
        return {**scores,
                "val_accessibility_acc": float((pred == truth).mean()),
                # what always answering the majority class scores: the head must beat it to mean anything
                "val_accessibility_baseline": max(rate, 1 - rate),
                "val_accessibility_balanced_acc": float((pred[truth].mean() if truth.any() else 1.0)
                                                        + (1 - pred[~truth].mean() if (~truth).any() else 1.0)) / 2}

    config = {"arch": "dna_oracle", "arch_kwargs": arch_kwargs, "prediction": "oracle", "split": split,
              "outputs": ["activity", "accessibility_logit"] if acc is not None else ["activity"], "vocab": "ACGT",
              **_data_record(task)}
    if isinstance(task, FastaData):
        # the paper's 3-mer Corr compares samples with the most active natural sequences: on your own data
        # those are the top of this half by measured activity (at least 20, or 1 %); finetune reads them here
        k = min(len(x), max(20, len(x) // 100))
        config["reference_kmers"] = kmer_frequencies(x[np.argsort(-y)[:k]]).tolist()
    return {"arch_kwargs": arch_kwargs, "n": len(xt), "loss": loss_fn, "eval": evaluate, "config": config,
            "ema": False}


def _train(p, reporter, device, s) -> dict:
    arch = s["config"]["arch"]
    net = nets.build(arch, **s["arch_kwargs"]).to(device)
    if p.model is not None and p.model.path:   # start from an earlier model of the same objective and size
        start_net, start_cfg = load_model(p.model.path, device)
        if start_cfg.get("arch") != arch or start_cfg.get("arch_kwargs") != s["arch_kwargs"]:
            raise ValueError(f"model {p.model.path} is a {start_cfg.get('arch')} {start_cfg.get('arch_kwargs')}, "
                             f"this job trains a {arch} {s['arch_kwargs']}")
        net.load_state_dict(start_net.state_dict())
        reporter.log(f"initialised from {p.model.path}")
    ema = make_ema(net) if s["ema"] else None
    opt = make_optimizer(p.optimizer, net.parameters(), p.lr, p.weight_decay)
    g = torch.Generator(device=device).manual_seed(p.seed)
    reporter.log(f"{s['config']['prediction']} {arch} {s['arch_kwargs']}, "
                 f"{sum(q.numel() for q in net.parameters())} parameters, {s['n']} training sequences, device {device}")
    plan = Plan(steps=p.steps, lr=p.lr, schedule="constant", warmup_steps=p.warmup_steps,
                ema_decay=getattr(p, "ema_decay", 0.0), grad_clip=p.grad_clip, batch_size=p.batch_size,
                log_every=p.log_every, checkpoint_every=p.checkpoint_every)

    def evaluate(done):
        for k, v in s["eval"](ema if s["ema"] else net, g).items():
            reporter.metric(f"eval/{k}", v, done)

    t0 = time.time()
    fitted = fit(plan, net, opt, s["loss"], reporter, g, ema=ema, evaluate=evaluate,
                 eval_at=every(p.eval_every, p.steps), device=device)
    final = (ema if s["ema"] else net).eval()
    ev = s["eval"](final, g)
    reporter.log(f"done in {time.time() - t0:.1f}s: " + ", ".join(f"{k}={v:.4g}" for k, v in ev.items()))
    cfg = dict(s["config"], train={"steps": p.steps, "batch_size": p.batch_size, "lr": p.lr,
                                   "ema_decay": plan.ema_decay if s["ema"] else None})
    save_model(reporter.out_dir, final, cfg, reporter)
    return {"final_loss": fitted.final_loss, "eval": ev, "objective": s["config"]["prediction"],
            "arch": arch, "arch_kwargs": s["arch_kwargs"], "weights": "ema" if s["ema"] else "raw",
            "optimizer": p.optimizer, "lr": p.lr, "resumed_from": fitted.start or None}
