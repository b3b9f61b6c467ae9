import types

import numpy as np

from ml.dna.sample_job import run_sample
from ml.modelio import load_model
from ml.reporting import PrintReporter


def test_sample_job_honours_nfe_and_writes_sequences(smoke, tmp_path):
    model, cfg = load_model(smoke["model"])
    p = types.SimpleNamespace(n_samples=40, nfe=9, seed=3, device="cpu")
    rep = PrintReporter(tmp_path, quiet_progress=True, stream=open("/dev/null", "w"))
    res = run_sample(model, cfg, p, rep)
    assert res["nfe_used"] == 9
    x = np.load(tmp_path / "samples.npy")
    assert x.shape == (40, cfg["task"]["length"]) and x.dtype == np.int8
    fasta = (tmp_path / "sequences.fasta").read_text().split("\n")
    assert fasta[0].startswith(">seq0") and set(fasta[1]) <= set("ACGT") and len(fasta[1]) == cfg["task"]["length"]
    assert {e["data"]["kind"] for e in rep.events if e["type"] == "artifact"} == {"samples", "sequences"}
    assert res["log_likelihood_exact"] < 0 and 0 <= res["diversity"] <= cfg["task"]["length"]
