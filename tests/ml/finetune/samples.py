"""Per-sample scores of the sequences a finetune job saved, for tests whose tolerances come from the
standard error of a difference of means (two independent sets of samples)."""
from __future__ import annotations

import numpy as np

from ml.dna.metrics import oracle_predict
from ml.dna.smoke import SMOKE_TASK
from ml.dna.problem import build
from ml.modelio import load_model


def per_sample(smoke, out_dir, task=SMOKE_TASK) -> dict:
    """{"true", "eval", "reward", "loglik"}: f*, eval / reward oracle predictions, exact log p per sample."""
    x = np.load(out_dir / "samples.npy").astype(np.int64)
    task = build(task)
    out = {"true": task.true_activity(x), "loglik": task.log_likelihood(x)}
    for key, ref in (("eval", "eval_reward"), ("reward", "reward")):
        out[key] = oracle_predict(load_model(smoke[ref])[0], x)[:, 0]
    return out


def se_of_difference(a, b) -> float:
    return float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))


def z(a, b) -> float:
    """(mean a - mean b) in standard errors of that difference (independent sets of samples)."""
    return float((a.mean() - b.mean()) / se_of_difference(a, b))
