"""A diverging training stops at the step whose loss went non-finite and keeps its last finite checkpoint;
`python -m ml.train` says so in one line."""
import json
import subprocess
import sys

import pytest
import torch

from ml import checkpoint
from ml.finite import Diverged
from ml.train import run

# the job: lr 1.0 with weight decay 10 on moons (AdamW shrinks each weight by 1 - lr * wd = -9
# per step); tiny net, no warm-up, a checkpoint after every step
DIVERGING = {"data": {"type": "moons"}, "lr": 1.0, "weight_decay": 10, "steps": 100, "width": 16, "depth": 1,
             "batch_size": 32, "warmup_steps": 0, "checkpoint_every": 1, "log_every": 1, "eval_every": 1000,
             "eval_samples": 16, "ref_nfe": 10}


def test_a_nan_loss_raises_diverged_at_its_step_and_keeps_the_last_finite_checkpoint(reporter_factory):
    rep = reporter_factory()
    with pytest.raises(Diverged) as exc:
        run(DIVERGING, rep)
    done = [e["data"]["done"] for e in rep.events if e["type"] == "progress"]
    k = done[-1] + 1  # the step that raised never reported progress
    assert str(exc.value) in (f"diverged: loss is nan at step {k}", f"diverged: loss is inf at step {k}")
    assert 2 <= k < 20  # measured: step 6
    # every loss before step k was finite (the smoothed curve is finite only if each point was)
    assert [s for s, v in rep.metrics("loss") if torch.isfinite(torch.tensor(v))] == list(range(1, k))
    ck = checkpoint.load(rep.out_dir / "checkpoint")
    assert ck.step == k - 1
    assert all(torch.isfinite(t).all() for t in ck.tensors.values() if t.is_floating_point())
    assert not (rep.out_dir / "model.safetensors").exists()


def test_the_terminal_run_prints_the_diverged_message_not_a_traceback(tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({**DIVERGING, "device": "cpu"}))
    out = subprocess.run([sys.executable, "-m", "ml.train", "--params", str(params), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("diverged: loss is ") and " at step " in lines[-1]
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert not (tmp_path / "out" / "result.json").exists()
