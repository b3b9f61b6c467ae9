import json

from ml.dna import train_job
from ml.reporting import PrintReporter

TINY = {"data": {"length": 16, "n_data": 400, "n_reference": 400}, "batch_size": 16, "width": 16, "depth": 2}


def reporter(path, attempt=1):
    return PrintReporter(path, quiet_progress=True, stream=open("/dev/null", "w"), attempt=attempt)


def test_oracle_job_writes_model_and_config(tmp_path):
    res = train_job.run(dict(TINY, objective="oracle", steps=20, split=1), reporter(tmp_path))
    cfg = json.loads((tmp_path / "model.json").read_text())
    assert cfg["prediction"] == "oracle" and cfg["split"] == 1 and cfg["task"]["length"] == 16
    assert set(res["eval"]) >= {"val_mse", "val_pearson", "val_accessibility_acc"}


def test_masked_diffusion_job_resumes_from_checkpoint(tmp_path):
    p = dict(TINY, objective="masked_diffusion", steps=10, checkpoint_every=5)
    train_job.run(p, reporter(tmp_path))
    assert (tmp_path / "checkpoint" / "state.json").exists()
    rep = reporter(tmp_path, attempt=2)
    train_job.run(p, rep)
    logs = [e["data"]["text"] for e in rep.events if e["type"] == "log"]
    assert "resumed from step 5, attempt 2" in logs
    assert [s for s, _ in rep.metrics("loss")] == [9]    # steps 5..9 ran; loss is logged every 10th and last
    cfg = json.loads((tmp_path / "model.json").read_text())
    assert cfg["prediction"] == "masked" and cfg["arch"] == "dnaconv"
