"""The smoke pipeline (CI-sized): pretrained MDLM + two oracles on a short task, trained once and cached
on disk by config, so every test (and `make bench --smoke`) reuses the same artifacts."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ml.dna import train_job
from ml.reporting import PrintReporter

# short motifs and a denser grammar, so a 32-base sequence has room for the activity's structure
SMOKE_TASK = {"type": "dna", "length": 32, "motifs": ["TGACTC", "GATAAG", "TTGCGC", "TGTTTA", "CACGTG", "GGGCGG"],
              "sites_per_seq": 2.0, "n_data": 4000, "n_reference": 4000, "top_fraction": 0.01, "seed": 0}
SMOKE_MDLM = {"objective": "masked_diffusion", "steps": 500, "batch_size": 64, "width": 32, "depth": 5,
              "lr": 2e-3, "warmup_steps": 50, "checkpoint_every": 0}
SMOKE_ORACLE = {"objective": "oracle", "steps": 400, "batch_size": 128, "width": 32, "checkpoint_every": 0}
# The same task with 3x the labelled data and 2.5x the oracle steps (bench_drakes "small"): the smoke oracles see
# 1.8k sequences each and are easy to game within 60 DRAKES steps (what the fast KL tests need), but their
# accessibility head sits near the majority-class baseline; at 5.4k sequences the activity oracles reach
# Pearson ~0.85 on held-out data and the head ~0.9 accuracy against a 0.71 baseline.
SMALL_TASK = dict(SMOKE_TASK, n_data=12000)
SMALL_ORACLE = dict(SMOKE_ORACLE, steps=1000)


def _train(cache: Path, name: str, params: dict) -> Path:
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    out = cache / f"{name}-{key}"
    if not (out / "model.json").exists():
        res = train_job.run(params, PrintReporter(out, quiet_progress=True, stream=open("/dev/null", "w")))
        (out / "result.json").write_text(json.dumps(res))
    return out


def oracle_artifact(cache, task: dict, oracle: dict | None = None, split: int = 0, seed: int = 0) -> Path:
    """One oracle on one half of `task`'s labelled data (the smoke training params updated by `oracle`)."""
    return _train(Path(cache), f"oracle{split}", dict(SMOKE_ORACLE, **(oracle or {}), data=task, split=split, seed=seed))


def smoke_artifacts(cache, task: dict | None = None, mdlm: dict | None = None, oracle: dict | None = None) -> dict:
    """{"model", "reward", "eval_reward"}: folders with model.json + model.safetensors. `task` replaces the
    smoke task, `mdlm` / `oracle` update the smoke training params (bench_drakes's standard config)."""
    cache = Path(cache)
    task = dict(task) if task is not None else dict(SMOKE_TASK)
    m, o = dict(SMOKE_MDLM, **(mdlm or {})), dict(SMOKE_ORACLE, **(oracle or {}))
    return {
        "model": _train(cache, "mdlm", dict(m, data=task, seed=0)),
        "reward": oracle_artifact(cache, task, o, split=0, seed=0),
        "eval_reward": oracle_artifact(cache, task, o, split=1, seed=1),
    }
