"""A researcher's own enhancer data (FASTA + CSV of measured activity, as Gosai et al.'s MPRA) through the DRAKES
pipeline: masked model, two oracles on the two halves, DRAKES; with no generator behind the data there is no
true activity, and the results say so instead of reporting one."""
import numpy as np
import pytest

from ml.dna.metrics import oracle_predict
from ml.dna.records import fasta_data
from ml.modelio import load_model
from tests.ml.dna.own_data import L, N, write_enhancer_data
from tests.ml.reporters import StopAfter


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
    fasta, labels = write_enhancer_data(tmp_path_factory.mktemp("own_dna"))
    return {"path": str(fasta), "labels": {"path": str(labels)}}


@pytest.fixture(scope="module")
def trained(own_data, tmp_path_factory):
    from ml.train import run

    root = tmp_path_factory.mktemp("own_dna_models")
    out = {}
    mdlm = {"objective": "masked_diffusion", "data": own_data, "steps": 60, "batch_size": 32, "width": 16, "depth": 2,
            "warmup_steps": 10, "checkpoint_every": 0, "device": "cpu"}
    out["model"] = run(mdlm, StopAfter(root / "mdlm")), root / "mdlm"
    for split in (0, 1):
        oracle = {"objective": "oracle", "data": own_data, "split": split, "seed": split, "steps": 300,
                  "batch_size": 64, "width": 16, "warmup_steps": 20, "checkpoint_every": 0, "device": "cpu"}
        out[f"oracle{split}"] = run(oracle, StopAfter(root / f"oracle{split}")), root / f"oracle{split}"
    return out


def test_the_masked_model_of_own_data_records_the_data_and_no_task(trained):
    res, folder = trained["model"]
    _, cfg = load_model(folder)
    assert "task" not in cfg and cfg["data"]["type"] == "fasta" and cfg["data"]["length"] == L
    assert cfg["data"]["n_sequences"] == N and "path" not in cfg["data"]
    # a model that learned anything beats the uniform NELBO of log 4 per base on held-out sequences
    assert res["eval"]["val_nelbo_per_base"] < res["eval"]["uniform_nelbo_per_base"]


def test_an_oracle_learns_labels_that_are_a_function_of_the_sequence(trained, own_data):
    """Pearson of oracle 0 on the other half (never seen): labels are motif copies + noise of std 0.1 against a
    spread of ~0.7, so counting the motif exactly would reach ~0.99; 300 steps of the 16-wide CNN reach 0.93
    (0.92 the other way round); 0.5 is the issue's bar for "learned it", far above chance (|r| ~ 0.05 at n = 400)."""
    net, cfg = load_model(trained["oracle0"][1])
    x, y, _ = fasta_data({**own_data, "activity_column": "activity", "accessibility_column": "accessibility",
                          "holdout": 0.1, "split_seed": 0}).labelled(1)
    pred = oracle_predict(net, x)[:, 0]
    assert np.corrcoef(pred, y)[0, 1] > 0.5
    assert cfg["outputs"] == ["activity", "accessibility_logit"] and len(cfg["reference_kmers"]) == 64
    assert trained["oracle0"][0]["eval"]["val_pearson"] > 0.5


def finetune(trained, tmp_path, **kw):
    from ml.finetune.runner import run

    params = {"model": {"path": str(trained["model"][1])}, "reward": {"path": str(trained["oracle0"][1])},
              "eval_reward": {"path": str(trained["oracle1"][1])}, "sampling_steps": 8, "n_samples": 16, **kw}
    return run(params, StopAfter(tmp_path / "ft"))


def test_drakes_on_own_data_reports_no_true_activity_and_says_why(trained, tmp_path):
    res = finetune(trained, tmp_path, method="drakes", steps=3, truncate_steps=4, batch_size=4, grad_accum=1,
                   eval_every=0, checkpoint_every=0)
    for key in ("true_activity_median", "log_likelihood_exact", "accessibility_true"):
        assert key in res and res[key] is None
    assert res["no_ground_truth"].startswith("no ground truth: the data came from FASTA")
    for key in ("pred_activity_median", "kmer_corr", "accessibility_acc", "log_likelihood_pretrained", "diversity"):
        assert np.isfinite(res[key]), key
    assert (tmp_path / "ft" / "model.json").exists() and (tmp_path / "ft" / "sequences.fasta").exists()


def test_cfg_needs_the_synthetic_tasks_labels_and_says_so(trained, tmp_path):
    with pytest.raises(ValueError, match="method 'cfg' trains its conditional model on the synthetic task"):
        finetune(trained, tmp_path, method="cfg")


def test_sampling_a_model_of_own_data_says_there_is_no_ground_truth(trained, tmp_path):
    from ml.sample import run

    res = run({"model": {"path": str(trained["model"][1])}, "nfe": 8, "n_samples": 8}, StopAfter(tmp_path / "s"))
    assert res["true_activity_median"] is None and "FASTA" in res["no_ground_truth"]
    assert np.load(tmp_path / "s" / "samples.npy").shape == (8, L)


def test_oracles_of_another_length_are_refused_by_field(trained, tmp_path):
    from ml.train import run

    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 16)) for _ in range(16)]
    (tmp_path / "short.fa").write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    (tmp_path / "short.csv").write_text("id,activity\n" + "".join(f"s{i},{i}\n" for i in range(16)))
    short = {"path": str(tmp_path / "short.fa"), "labels": {"path": str(tmp_path / "short.csv")}}
    run({"objective": "oracle", "data": short, "steps": 2, "width": 8, "checkpoint_every": 0, "warmup_steps": 0},
        StopAfter(tmp_path / "short_oracle"))
    with pytest.raises(ValueError, match="reward: the oracle learned sequences of 16 bases; the model generates 24"):
        finetune(trained, tmp_path, method="pretrained", reward={"path": str(tmp_path / "short_oracle")})
