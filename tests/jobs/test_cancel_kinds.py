"""Cancel in every kind, through the worker's own reporter: the user's cancel lands mid-run, the run stops at
its next step boundary (ml.reporting.Cancelled) with its checkpoint kept, and the next attempt, seeded with
that checkpoint (jobs/reporter.py), resumes to exactly what an uninterrupted run gives."""
import numpy as np
import pytest
import torch

from jobs.models import Job
from jobs.reporter import JobReporter
from jobs.tasks import job_dir
from ml.reporting import Cancelled, PrintReporter

pytestmark = pytest.mark.django_db(transaction=True)


class CancelAfter:
    """The worker's reporter of one attempt; after its n-th progress report the user presses cancel: the flag
    is written to the job's row and read back by the reporter's heartbeat, as the flusher does every beat."""

    def __init__(self, job, n):
        self.rep, self.job_id, self.n, self.count = JobReporter(job, job_dir(job)), job.pk, n, 0
        self.out_dir, self.attempt = self.rep.out_dir, self.rep.attempt

    def progress(self, done, total):
        self.rep.progress(done, total)
        self.count += 1
        if self.count == self.n:
            Job.objects.filter(pk=self.job_id).update(cancel_requested=True)
            self.rep._last_beat = 0.0  # the next flush is a heartbeat, which re-reads the flag
            self.rep.flush()

    def metric(self, name, value, step):
        self.rep.metric(name, value, step)

    def log(self, text):
        self.rep.log(text)

    def artifact(self, name, path, kind):
        self.rep.artifact(name, path, kind)

    def should_stop(self):
        return self.rep.should_stop()


def _attempt(job, attempt):
    Job.objects.filter(pk=job.pk).update(status="running", attempts=attempt, cancel_requested=False)
    job.refresh_from_db()
    return job


def cancel_then_resume(job, run, params, n):
    """(attempt 1's reporter after its cancel, attempt 2's result and out_dir)."""
    first = CancelAfter(_attempt(job, 1), n)
    with pytest.raises(Cancelled):
        run(params, first)
    first.rep.close()
    assert (first.out_dir / "checkpoint" / "manifest.json").is_file()  # what it did is kept
    second = JobReporter(_attempt(job, 2), job_dir(job))
    assert (second.out_dir / "checkpoint" / "manifest.json").is_file()  # and handed to the next attempt
    result = run(params, second)
    second.close()
    return first, result, second.out_dir


def _fresh(run, params, tmp_path):
    return run(params, PrintReporter(tmp_path, quiet_progress=True, stream=open("/dev/null", "w")))


def test_a_cancelled_sample_job_resumes_its_chunks_to_the_same_samples(make_job, tmp_path):
    from ml.sample import run

    params = {"n_samples": 60, "batch_size": 20, "nfe": 6, "exact_subset": 0}   # 3 chunks of 6 steps
    first, _, out = cancel_then_resume(make_job("sample", params), run, params, n=8)
    assert first.count < 18  # it stopped inside the run, not after it
    _fresh(run, params, tmp_path)
    np.testing.assert_array_equal(np.load(out / "samples.npy"), np.load(tmp_path / "samples.npy"))


def test_a_cancelled_masked_sample_job_resumes_to_the_same_sequences(make_job, tmp_path, tmp_path_factory):
    from ml.dna.smoke import smoke_artifacts
    from ml.sample import run

    smoke = smoke_artifacts(tmp_path_factory.getbasetemp() / "dna_smoke")
    params = {"model": {"path": str(smoke["model"])}, "n_samples": 24, "batch_size": 8, "nfe": 5, "device": "cpu"}
    first, res, out = cancel_then_resume(make_job("sample", params), run, params, n=6)
    assert first.count < 12 and res["sampler"] == "mdlm_ddpm"
    fresh = _fresh(run, params, tmp_path)
    np.testing.assert_array_equal(np.load(out / "samples.npy"), np.load(tmp_path / "samples.npy"))
    assert res["true_activity_median"] == fresh["true_activity_median"]


def test_a_cancelled_quantize_job_resumes_between_layers_to_the_same_model(make_job, tmp_path):
    from ml.modelio import load_model
    from ml.quantize import run

    params = {"model": {"builtin": "digits_mlp"}, "method": "gptq", "bits": 3, "group_size": 32}
    first, res, out = cancel_then_resume(make_job("quantize", params), run, params, n=1)
    assert first.count < 3  # digits_mlp has 3 layers
    fresh = _fresh(run, params, tmp_path)
    assert res["metric_after"] == fresh["metric_after"]
    a, b = load_model(out)[0].state_dict(), load_model(tmp_path)[0].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
