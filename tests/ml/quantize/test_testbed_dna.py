import json

import numpy as np
import pytest
import torch

from ml.dna import mdlm
from ml.dna.metrics import oracle_predict
from ml.dna.smoke import smoke_artifacts
from ml.finetune import run as finetune
from ml.modelio import load_model
from ml.quantize import run
from ml.reporting import PrintReporter


def _reporter(path):
    return PrintReporter(path, stream=open("/dev/null", "w"), quiet_progress=True)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    # the same folder as tests/ml/dna and tests/ml/finetune: the smoke MDLM and oracles are trained once a session
    return smoke_artifacts(tmp_path_factory.getbasetemp() / "dna_smoke")


def test_dna_generator_is_scored_on_samples_by_true_activity_and_exact_likelihood(smoke, tmp_path):
    q = {"model": {"path": str(smoke["model"])}, "group_size": -1, "n_samples": 256, "sampling_steps": 32}
    w8 = run(dict(q, method="rtn", bits=8), _reporter(tmp_path / "w8"))
    w2 = run(dict(q, method="rtn", bits=2), _reporter(tmp_path / "w2"))
    assert w8["metric_name"] == "true_activity_median" and w8["higher_is_better"]
    assert w8["metric_before"] == w2["metric_before"]  # the fp model's samples: same seed, same sequences
    ll8, ll2 = w8["extra_metrics"]["log_likelihood_exact"], w2["extra_metrics"]["log_likelihood_exact"]
    # 8-bit barely moves the model and the draws are paired: measured |d| <= 0.06 nats over seeds 0-2. W2 RTN
    # loses 1.1 / 0.5 / 0.8 nats (uniform random sequences score -44.4, the fp model ~-43); 0.3 is below all three
    assert abs(ll8["after"] - ll8["before"]) < 0.2
    assert ll2["after"] < ll2["before"] - 0.3
    err = {b: r["extra_metrics"]["relative_output_error"]["after"] for b, r in ((8, w8), (2, w2))}
    assert err[2] > 5 * err[8]  # measured 0.44 vs 0.006 on the held-out masked natural sequences


def test_finetuned_generator_is_scored_by_the_eval_oracle_of_its_lineage(smoke, tmp_path):
    ft = {"method": "drakes", "alpha": 0.05, "steps": 2, "batch_size": 4, "grad_accum": 1, "sampling_steps": 16,
          "truncate_steps": 4, "n_samples": 8, "eval_every": 0, "model": {"path": str(smoke["model"])},
          "reward": {"path": str(smoke["reward"])}, "eval_reward": {"path": str(smoke["eval_reward"])}}
    finetune(ft, _reporter(tmp_path / "ft"))
    res = run({"model": {"path": str(tmp_path / "ft")}, "method": "gptq", "bits": 4, "group_size": -1,
               "n_samples": 64, "sampling_steps": 16, "seed": 3}, _reporter(tmp_path / "q"))
    assert res["metric_name"] == "pred_activity_median"
    # recomputed here from the same seed and sampler: the job scored the fp model's own samples with that oracle
    model, cfg = load_model(tmp_path / "ft")
    oracle, _ = load_model(smoke["eval_reward"])
    x = mdlm.sample(model, 64, cfg["task"]["length"], 16, torch.Generator().manual_seed(3))
    assert res["metric_before"] == pytest.approx(float(np.median(oracle_predict(oracle, x)[:, 0])), abs=1e-6)
    assert "true_activity_median" in res["extra_metrics"] and "log_likelihood_exact" in res["extra_metrics"]


def test_dna_oracle_is_scored_on_its_held_out_labels(smoke, tmp_path):
    res = run({"model": {"path": str(smoke["reward"])}, "method": "gptq", "bits": 4, "group_size": -1},
              _reporter(tmp_path))
    val = json.loads((smoke["reward"] / "result.json").read_text())["eval"]
    assert res["metric_name"] == "pearson"
    # the same validation slice the train job scored: the fp numbers agree to float32 rounding
    assert res["metric_before"] == pytest.approx(val["val_pearson"], abs=1e-5)
    assert res["extra_metrics"]["mse"]["before"] == pytest.approx(val["val_mse"], rel=1e-5)
    # W4 per-channel GPTQ: ~4 % output error (measured); the correlation may not fall by more than 0.02
    assert res["metric_after"] > res["metric_before"] - 0.02
