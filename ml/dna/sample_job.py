"""The `sample` kind for masked-diffusion DNA models (model.json "prediction": "masked"): the chosen masked
sampler (`ml.sample.samplers.MASKED_SAMPLERS`) with nfe - 1 reverse steps and MDLM's final noise-removal
step, scored on the task's ground truth recorded in the model's model.json.

Sequences are drawn in chunks of `batch_size` from one seeded generator; each finished chunk is kept in
the checkpoint with the generator's state after it, so a rerun after a cancel or a retry continues the
same stream and ends with the sequences an uninterrupted run draws.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ml.device import resolve_device
from ml.dna.fasta import write_fasta
from ml.dna.metrics import NO_GROUND_TRUTH, diversity
from ml.dna.problem import build as build_task
from ml.reporting import check_stop
from ml.sample import chunks as chunk_store
from ml.sample.samplers import MASKED_SAMPLERS


def run_sample(model, cfg: dict, p, reporter) -> dict:
    """`p`: the sample kind's Params (ml.sample.params), already checked against this model's model.json."""
    sampler = p.sampler_for(cfg)
    device = resolve_device(p.device)
    model = model.to(device).eval()
    task = build_task(cfg["task"]) if cfg.get("task") is not None else None
    length = task.length if task is not None else int(cfg["data"]["length"])
    steps = p.nfe - 1   # nfe counts the final argmax step too, so the budget is honoured exactly
    starts = list(range(0, p.n_samples, p.batch_size))
    total = len(starts) * steps
    g = torch.Generator(device=device).manual_seed(p.seed)
    folder = reporter.out_dir / "checkpoint"
    kept = chunk_store.finished(folder, p) if len(starts) > 1 else []
    xs = [c["x"] for c in kept]
    if kept:
        g.set_state(kept[-1]["rng"])
        reporter.log(f"resumed from step {len(kept) * steps} ({len(kept)} of {len(starts)} chunks), "
                     f"attempt {reporter.attempt}")
    reporter.log(f"sampling {p.n_samples} DNA sequences of length {length} with {sampler} ({steps} reverse "
                 f"steps + final argmax) on {device}")
    check_stop(reporter)
    t0 = time.perf_counter()
    for k, s in enumerate(starts):
        if k < len(kept):
            continue
        done = k * steps

        def step_done(i, x, done=done):
            reporter.progress(done + i + 1, total)
            check_stop(reporter)

        x = MASKED_SAMPLERS[sampler](model, min(p.batch_size, p.n_samples - s), length, steps, g, device,
                                     callback=step_done).cpu()
        xs.append(x)
        if len(starts) > 1:
            chunk_store.keep(folder, k, {"x": x, "rng": g.get_state()}, p)
    x = torch.cat(xs).numpy()
    seconds = time.perf_counter() - t0
    f = task.true_activity(x) if task is not None else None
    out = reporter.out_dir
    np.save(out / "samples.npy", x.astype(np.int8))
    reporter.artifact("samples.npy", out / "samples.npy", "samples")
    write_fasta(out / "sequences.fasta", x, f)
    reporter.artifact("sequences.fasta", out / "sequences.fasta", "sequences")
    res = {"nfe_used": steps + 1, "seconds": seconds, "n_samples": p.n_samples, "sampler": sampler,
           "chunks": len(starts), "diversity": diversity(x)}
    if task is None:
        res.update({k: None for k in ("true_activity_median", "log_likelihood_exact", "accessibility_true")},
                   no_ground_truth=NO_GROUND_TRUTH)
        reporter.log(f"{p.n_samples} DNA sequences of length {length} with {steps} reverse steps + final argmax "
                     f"(a model of your own sequences: {NO_GROUND_TRUTH})")
        return res
    res.update({"true_activity_median": float(np.median(f)),
                "log_likelihood_exact": float(np.median(task.log_likelihood(x))),
                "accessibility_true": float(task.accessible(x).mean())})
    reporter.log(f"{p.n_samples} DNA sequences of length {length} with {steps} reverse steps + final argmax: "
                 f"true activity median {res['true_activity_median']:.3f}, exact log-lik median "
                 f"{res['log_likelihood_exact']:.2f}")
    return res
