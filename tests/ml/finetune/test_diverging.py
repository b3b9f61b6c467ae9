"""Fine-tuning a diverged pretrained model stops at its first step, saying so, and writes no checkpoint or model."""
import pytest

from ml.dna import train_job
from ml.finetune import Params as FinetuneParams, run
from ml.finite import Diverged
from ml.params import applicable
from ml.reporting import PrintReporter
from ml.train import Params as TrainParams

TINY = {"data": {"length": 16, "n_data": 400, "n_reference": 400}, "batch_size": 16, "width": 16}
FT = {"sampling_steps": 8, "truncate_steps": 4, "batch_size": 8, "grad_accum": 1, "steps": 20, "n_samples": 16,
      "eval_every": 0, "checkpoint_every": 1, "cfg_train_steps": 20}


def reporter(path):
    return PrintReporter(path, quiet_progress=True, stream=open("/dev/null", "w"))


@pytest.fixture(scope="module")
def diverged_inputs(tmp_path_factory):
    """A masked-diffusion model after one AdamW step at lr 1e10 (past the schema's bound, set on the validated
    params; its weights ~1e10: finite, so saved, but its logits overflow), and two small honest oracles."""
    root = tmp_path_factory.mktemp("diverged")
    blown = TrainParams.model_validate(dict(TINY, depth=2, objective="masked_diffusion", steps=1, warmup_steps=0))
    train_job.run(blown.model_copy(update={"lr": 1e10}), reporter(root / "m"))
    for split in (0, 1):
        train_job.run(dict(TINY, objective="oracle", steps=20, split=split), reporter(root / f"o{split}"))
    return {"model": {"path": str(root / "m")}, "reward": {"path": str(root / "o0")},
            "eval_reward": {"path": str(root / "o1")}}


@pytest.mark.parametrize("method, message", [
    ("drakes", r"^diverged: grad norm is nan at step 1$"),   # the reward is finite; its gradient is not
    ("cfg", r"^diverged: cfg loss is nan at step 1$"),
])
def test_a_diverged_model_stops_the_finetune_at_step_1(diverged_inputs, tmp_path, method, message):
    rep = reporter(tmp_path)
    with pytest.raises(Diverged, match=message):
        run(applicable(FinetuneParams, dict(FT, method=method, lr=1e-3, **diverged_inputs)), rep)
    assert not [e for e in rep.events if e["type"] == "progress"]
    assert not (tmp_path / "checkpoint").exists() and not (tmp_path / "model.safetensors").exists()
