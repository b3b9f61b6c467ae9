import json
import math

import pytest
import torch

from ml import checkpoint
from ml.dna import train_job
from ml.finite import Diverged
from ml.dna.smoke import SMALL_ORACLE, SMALL_TASK
from ml.reporting import PrintReporter
from ml.train import Params

TINY = {"data": {"length": 16, "n_data": 400, "n_reference": 400}, "batch_size": 16, "width": 16}
DEPTH = {"masked_diffusion": {"depth": 2}, "oracle": {}}  # the oracle's network has no depth


def reporter(path, attempt=1):
    return PrintReporter(path, quiet_progress=True, stream=open("/dev/null", "w"), attempt=attempt)


def test_oracle_job_writes_model_and_config(tmp_path):
    res = train_job.run(dict(TINY, objective="oracle", steps=20, split=1), reporter(tmp_path))
    cfg = json.loads((tmp_path / "model.json").read_text())
    assert cfg["prediction"] == "oracle" and cfg["split"] == 1 and cfg["task"]["length"] == 16
    assert set(res["eval"]) >= {"val_mse", "val_pearson", "val_accessibility_acc"}


def test_masked_diffusion_job_resumes_from_its_last_periodic_checkpoint(tmp_path):
    p = dict(TINY, depth=2, objective="masked_diffusion", steps=10, checkpoint_every=5)
    crashing = reporter(tmp_path)

    def progress(done, total, _orig=crashing.progress):
        _orig(done, total)
        if done == 7:  # a worker lost mid-run: no stop checkpoint, only the periodic one at step 5
            raise RuntimeError("worker lost")

    crashing.progress = progress
    with pytest.raises(RuntimeError, match="worker lost"):
        train_job.run(p, crashing)
    rep = reporter(tmp_path, attempt=2)
    res = train_job.run(p, rep)
    logs = [e["data"]["text"] for e in rep.events if e["type"] == "log"]
    assert "resumed from step 5, attempt 2" in logs and res["resumed_from"] == 5
    assert [s for s, _ in rep.metrics("loss")] == [10]    # steps 6..10 ran; loss is logged every 10th and last
    cfg = json.loads((tmp_path / "model.json").read_text())
    assert cfg["prediction"] == "masked" and cfg["arch"] == "dnaconv"


def test_accessibility_head_beats_the_majority_class_on_held_out_sequences(tmp_path):
    """The ATAC analogue must be a real classifier: the eval oracle of bench_drakes "small" (split 1, seed 1),
    scored on the tenth of its split it never trained on."""
    res = train_job.run(dict(SMALL_ORACLE, data=SMALL_TASK, split=1, seed=1), reporter(tmp_path))
    ev = res["eval"]
    n_val = SMALL_TASK["n_data"] // 2 // 10
    base = ev["val_accessibility_baseline"]
    assert 0.5 <= base < 0.9    # ~29 % of natural sequences are open
    # 3 binomial standard errors above what always answering the majority class scores on n_val sequences
    # (measured: accuracy ~0.88 against a baseline of ~0.72; SE 0.018)
    assert ev["val_accessibility_acc"] > base + 3 * math.sqrt(base * (1 - base) / n_val)
    # and both classes are found: balanced accuracy well above chance (0.5, SE <= 0.5 / sqrt(n of the rarer class))
    assert ev["val_accessibility_balanced_acc"] > 0.5 + 3 * 0.5 / math.sqrt((1 - base) * n_val)


@pytest.mark.parametrize("objective", ["masked_diffusion", "oracle"])
def test_a_huge_lr_raises_diverged_at_the_nan_step_and_keeps_the_finite_checkpoint(tmp_path, objective):
    # Adam moves every weight by ~lr in its first step: at lr 1e10 (past the schema's bound, set on the
    # validated params) the second forward pass overflows
    rep = reporter(tmp_path)
    p = Params.model_validate(dict(TINY, **DEPTH[objective], objective=objective, steps=20, warmup_steps=0,
                                   checkpoint_every=1)).model_copy(update={"lr": 1e10})
    with pytest.raises(Diverged, match=r"^diverged: loss is nan at step 2$"):
        train_job.run(p, rep)
    assert [e["data"]["done"] for e in rep.events if e["type"] == "progress"] == [1]
    ck = checkpoint.load(tmp_path / "checkpoint")
    assert ck.step == 1
    assert all(torch.isfinite(t).all() for t in ck.tensors.values() if t.is_floating_point())
    assert not (tmp_path / "model.safetensors").exists()
