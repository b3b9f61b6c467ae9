"""The `sample` kind on a masked diffusion model: typed params, the chosen sampler, cancel and resume."""
import json

import numpy as np
import pytest
from pydantic import ValidationError

from ml.reporting import Cancelled, PrintReporter
from ml.sample import Params, run


def _reporter(path, **kw):
    return PrintReporter(path, quiet_progress=True, stream=open("/dev/null", "w"), **kw)


class StopAfter(PrintReporter):
    """Asks to stop once `n` progress reports came, like a user pressing cancel mid-job."""

    def __init__(self, path, n, attempt=1):
        super().__init__(path, quiet_progress=True, stream=open("/dev/null", "w"), attempt=attempt)
        self.n = n

    def should_stop(self):
        return sum(e["type"] == "progress" for e in self.events) >= self.n


def test_sample_job_honours_nfe_and_writes_sequences(smoke, tmp_path):
    rep = _reporter(tmp_path)
    res = run({"model": {"path": str(smoke["model"])}, "n_samples": 40, "nfe": 9, "seed": 3, "device": "cpu"}, rep)
    cfg = json.loads((smoke["model"] / "model.json").read_text())
    assert res["nfe_used"] == 9 and res["sampler"] == "mdlm_ddpm"  # the masked default, no sampler given
    x = np.load(tmp_path / "samples.npy")
    assert x.shape == (40, cfg["task"]["length"]) and x.dtype == np.int8
    fasta = (tmp_path / "sequences.fasta").read_text().split("\n")
    assert fasta[0].startswith(">seq0") and set(fasta[1]) <= set("ACGT") and len(fasta[1]) == cfg["task"]["length"]
    assert {e["data"]["kind"] for e in rep.events if e["type"] == "artifact"} == {"samples", "sequences"}
    assert res["log_likelihood_exact"] < 0 and 0 <= res["diversity"] <= cfg["task"]["length"]
    # one progress report per reverse step: 8 steps, then the final argmax
    assert [e["data"]["done"] for e in rep.events if e["type"] == "progress"] == list(range(1, 9))


def _errors(params):
    with pytest.raises(ValidationError) as e:
        Params.model_validate(params)
    return {err["loc"]: err["msg"] for err in e.value.errors()}


def test_a_sampler_of_the_other_kind_is_refused_naming_sampler(smoke):
    masked = {"path": str(smoke["model"])}
    errs = _errors({"model": masked, "sampler": "ddim"})
    assert list(errs) == [("sampler",)] and "masked diffusion model: choose mdlm_ddpm" in errs[("sampler",)]
    errs = _errors({"sampler": "mdlm_ddpm"})  # the default gmm model is continuous
    assert list(errs) == [("sampler",)] and "choose an ODE solver" in errs[("sampler",)]
    # ODE-only fields: refused with a masked sampler, and with the default sampler of a masked model
    assert list(_errors({"model": masked, "sampler": "mdlm_ddpm", "grid": "logsnr"})) == [("grid",)]
    assert list(_errors({"model": masked, "save_noise": True})) == [("save_noise",)]
    assert list(_errors({"model": masked, "nfe": 1})) == [("nfe",)]
    # an oracle is no generator: refused on `model`, with what to sample instead
    errs = _errors({"model": {"path": str(smoke["reward"])}})
    assert list(errs) == [("model",)] and "sample the masked diffusion model it scores" in errs[("model",)]
    # what the API stores (every default written out) validates again on the worker
    stored = Params.model_validate({"model": masked, "nfe": 5}).model_dump(mode="json", exclude_none=True)
    assert Params.model_validate(stored).sampler_for({"prediction": "masked"}) == "mdlm_ddpm"


def test_a_terminal_run_of_a_masked_model_with_an_ode_solver_fails_naming_sampler(smoke, tmp_path):
    with pytest.raises(ValidationError, match=r"sampler\n  'ddim' is an ODE solver for continuous models; this "
                                              r"model is a masked diffusion model: choose mdlm_ddpm"):
        run({"model": {"path": str(smoke["model"])}, "sampler": "ddim"}, _reporter(tmp_path))
    assert not (tmp_path / "samples.npy").exists()


def test_a_cancelled_masked_run_keeps_its_chunks_and_resumes_to_the_same_sequences(smoke, tmp_path):
    params = {"model": {"path": str(smoke["model"])}, "n_samples": 40, "batch_size": 16, "nfe": 5, "device": "cpu"}
    with pytest.raises(Cancelled):
        run(params, StopAfter(tmp_path / "job", 6))   # 4 reverse steps a chunk: stops inside the second chunk
    manifest = json.loads((tmp_path / "job/checkpoint/manifest.json").read_text())
    assert manifest["step"] == 1 and not (tmp_path / "job/samples.npy").exists()
    rep = _reporter(tmp_path / "job", attempt=2)
    resumed = run(params, rep)
    assert any("resumed from step 4 (1 of 3 chunks), attempt 2" in e["data"].get("text", "") for e in rep.events)
    assert [e["data"]["done"] for e in rep.events if e["type"] == "progress"] == list(range(5, 13))
    fresh = run(params, _reporter(tmp_path / "fresh"))
    # the generator's state is kept with each chunk: the rerun draws what an uninterrupted run draws
    np.testing.assert_array_equal(np.load(tmp_path / "job/samples.npy"), np.load(tmp_path / "fresh/samples.npy"))
    assert resumed["true_activity_median"] == fresh["true_activity_median"]
