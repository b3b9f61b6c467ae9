"""Outputs of one job are inputs of the next, through the job system: train -> reflow,
sample and quantize, each linked to the model it used."""
import numpy as np
import pytest

from jobs.models import Artifact, Job
from tests.helpers import submit, succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def model_of(job_id):
    return Artifact.objects.get(job_id=job_id, kind="model")


@pytest.mark.stores
def test_a_trained_flow_is_reflowed_sampled_and_quantized(celery_worker, api):
    small = {"data": {"type": "moons"}, "steps": 150, "batch_size": 128, "width": 64, "depth": 2,
             "eval_every": 150, "checkpoint_every": 150, "eval_samples": 256, "ref_nfe": 50}
    flow = succeeded(submit(api, "train", {**small, "objective": "rectified_flow"}))
    model = model_of(flow.pk)
    assert flow.result["final_loss"] > 0

    reflow = submit(api, "train", {**small, "objective": "reflow", "model": {"artifact": model.pk},
                                   "reflow_pairs": 256, "teacher_nfe": 8})
    sample = submit(api, "sample", {"model": {"artifact": model.pk}, "sampler": "rf_euler", "nfe": 8,
                                    "n_samples": 500})
    quant = submit(api, "quantize", {"model": {"artifact": model.pk}, "method": "rtn", "bits": 8,
                                     "group_size": -1})
    for job_id in (reflow, sample, quant):
        job = succeeded(job_id)
        assert list(job.input_artifacts.values_list("id", flat=True)) == [model.pk]
    assert set(Job.objects.filter(input_artifacts__job=flow).values_list("id", flat=True)) == {reflow, sample, quant}

    samples = np.load(Artifact.objects.get(job_id=sample, name="samples.npy").file.open("rb"))
    # two moons live in about [-1.5, 2.5] x [-1, 1.5]: a model that learned nothing would not
    assert samples.shape == (500, 2) and np.all(np.abs(samples.mean(0)) < 1.5)
    assert Job.objects.get(pk=sample).result["nfe_used"] == 8
    q = Job.objects.get(pk=quant).result
    assert q["packed_bytes"] < q.get("fp32_bytes", float("inf"))

    # the quantized model is itself a model that `sample` can use
    q_model = model_of(quant)
    succeeded(submit(api, "sample", {"model": {"artifact": q_model.pk}, "sampler": "rf_euler", "nfe": 4,
                                    "n_samples": 100}))
