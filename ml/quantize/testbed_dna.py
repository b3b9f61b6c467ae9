"""The task metric of DNA models for the quantize job: what the model is for, before and after.

- A generator (masked diffusion: `train` objective masked_diffusion, or a `finetune` model): `n_samples`
  sequences are drawn from the fp and from the quantized model with the same seed (MDLM ancestral sampling,
  as the `sample` kind, with the model's own step count unless `sampling_steps` is given) and scored as the
  DRAKES table is (`ml.dna.metrics.evaluate`). The reward is the eval oracle's median predicted activity when one is named
  (the job's `eval_reward`, else the `finetune` lineage recorded in model.json), else the median of the task's
  true activity f* (ground truth, known for this synthetic task); f*, the exact log-likelihood under the
  task's generator HMM, 3-mer correlation and diversity are always reported too.
- An oracle: its predictions on the validation slice of its own split (held out from its training, the
  `train` job's val set): Pearson correlation with the labels (the metric), MSE, accessibility accuracy and the
  Pearson correlation with the noise-free f*.
Calibration inputs are natural sequences from the task's generator, masked at a random rate per sequence
for generators (the states a masked-diffusion model denoises).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ml.dna import mdlm
from ml.dna.metrics import evaluate, oracle_predict
from ml.dna.problem import build as build_task


def natural_inputs(cfg, n, seed):
    task = build_task(cfg["task"])
    tokens = torch.as_tensor(task.sample_natural(n, seed=seed))
    if cfg.get("prediction") != "masked":
        return (torch.nn.functional.one_hot(tokens, 4).float(),)
    g = torch.Generator().manual_seed(seed)
    rate = torch.rand(n, 1, generator=g)
    tokens = torch.where(torch.rand(tokens.shape, generator=g) < rate, torch.full_like(tokens, mdlm.MASK), tokens)
    return (mdlm.onehot(tokens),)


def lineage_oracle(cfg):
    """The eval oracle's folder a `finetune` model recorded, if it is still there."""
    path = ((cfg.get("finetune") or {}).get("eval_reward") or {}).get("path")
    return path if path and (Path(path) / "model.json").exists() else None


def generator_scores(cfg, n_samples, seed, eval_oracle=None, steps=None):
    task = build_task(cfg["task"])
    steps = int(steps or (cfg.get("sampling") or {}).get("steps", 128))
    name = "pred_activity_median" if eval_oracle is not None else "true_activity_median"

    def scores(model):
        g = torch.Generator().manual_seed(seed)  # the same draws before and after: a paired comparison
        x = torch.cat([mdlm.sample(model, min(256, n_samples - s), task.length, steps, g)
                       for s in range(0, n_samples, 256)])
        return evaluate(x.numpy(), task, eval_oracle)

    notes = (f"median {'eval-oracle predicted' if eval_oracle is not None else 'true (f*)'} activity of {n_samples} "
             f"sequences sampled with {steps} steps + final argmax, same seed before and after")
    return name, scores, notes


def oracle_scores(cfg):
    task = build_task(cfg["task"])
    x, y, acc = task.labelled(int(cfg.get("split", 0)))
    n_val = max(len(x) // 10, 32)  # the oracle objective's validation slice (ml/dna/train_job.py), never trained on
    x, y, acc = x[:n_val], y[:n_val], acc[:n_val]
    f = task.true_activity(x)

    def scores(model):
        p = oracle_predict(model, x)
        return {"pearson": float(np.corrcoef(p[:, 0], y)[0, 1]), "mse": float(np.mean((p[:, 0] - y) ** 2)),
                "accessibility_acc": float(((p[:, 1] > 0) == (acc > 0.5)).mean()),
                "pearson_true_activity": float(np.corrcoef(p[:, 0], f)[0, 1])}

    return "pearson", scores, f"Pearson correlation of predicted activity with the labels of {n_val} held-out sequences"
