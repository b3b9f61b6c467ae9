"""The `sample` kind for masked-diffusion DNA models (cfg["prediction"] == "masked"): ancestral sampling
with `nfe` reverse steps (MDLM's final noise-removal step included in them), scored on the task's ground
truth recorded in the model's model.json."""
from __future__ import annotations

import time

import numpy as np
import torch

from ml.device import resolve_device
from ml.dna import mdlm
from ml.dna.fasta import write_fasta
from ml.dna.metrics import diversity
from ml.dna.problem import build as build_task


def run_sample(model, cfg, params, reporter) -> dict:
    n = int(getattr(params, "n_samples", 64) or 64)
    nfe = int(getattr(params, "nfe", None) or cfg.get("sampling", {}).get("steps", 128) + 1)
    seed = int(getattr(params, "seed", 0) or 0)
    device = resolve_device(getattr(params, "device", "auto") or "auto")
    model = model.to(device).eval()
    task = build_task(cfg["task"])
    steps = max(nfe - 1, 1)   # nfe counts the final argmax step too, so the budget is honoured exactly
    g = torch.Generator(device=device).manual_seed(seed)
    t0, xs = time.time(), []
    for s in range(0, n, 256):
        xs.append(mdlm.sample(model, min(256, n - s), task.length, steps, g, device).cpu())
        reporter.progress(min(s + 256, n), n)
    x = torch.cat(xs).numpy()
    seconds = time.time() - t0
    f = task.true_activity(x)
    out = reporter.out_dir
    np.save(out / "samples.npy", x.astype(np.int8))
    reporter.artifact("samples.npy", out / "samples.npy", "samples")
    write_fasta(out / "sequences.fasta", x, f)
    reporter.artifact("sequences.fasta", out / "sequences.fasta", "sequences")
    res = {"nfe_used": steps + 1, "seconds": seconds, "n_samples": n, "sampler": "mdlm_ddpm",
           "true_activity_median": float(np.median(f)),
           "log_likelihood_exact": float(np.median(task.log_likelihood(x))),
           "accessibility_true": float(task.accessible(x).mean()), "diversity": diversity(x)}
    reporter.log(f"{n} DNA sequences of length {task.length} with {steps} reverse steps + final argmax: "
                 f"true activity median {res['true_activity_median']:.3f}, exact log-lik median {res['log_likelihood_exact']:.2f}")
    return res
