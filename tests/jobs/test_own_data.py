"""Jobs on data of your own, through a real worker: a `dataset` artifact (made here as an upload job's row and
file would be, without the upload API) feeds `train`'s data field; a data field takes only datasets and a model
field only models; a bad file is a 400 naming the field."""
import hashlib

import numpy as np
import pytest

from jobs.models import Artifact, Job
from jobs.tasks import job_dir
from tests.helpers import submit, succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.filesystem]  # datasets laid in MEDIA_ROOT by hand


@pytest.fixture
def dataset(make_job):
    """An ended job holding a file as a `dataset` artifact, as an upload leaves one."""

    def make(name: str, content: bytes) -> Artifact:
        job = make_job("sample", {})
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
        folder = job_dir(job)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        return Artifact.objects.create(job=job, name=name, kind="dataset", file=f"jobs/{job.storage_key}/{name}",
                                       size=len(content), sha256=hashlib.sha256(content).hexdigest())

    return make


def npy_bytes(x) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


FAST = {"objective": "rectified_flow", "width": 32, "depth": 1, "batch_size": 64, "steps": 40, "warmup_steps": 5,
        "eval_every": 40, "checkpoint_every": 40, "eval_samples": 64, "ref_nfe": 10}


@pytest.mark.worker
def test_train_on_a_dataset_artifact_runs_and_scores_the_held_out_rows(api, dataset, celery_worker):
    rng = np.random.default_rng(0)
    art = dataset("points.npy", npy_bytes(rng.uniform(-1, 1, (200, 3)).astype(np.float32)))
    job = succeeded(submit(api, "train", {**FAST, "data": {"artifact": art.pk, "holdout": 0.25}}))
    assert job.params["data"] == {"artifact": art.pk, "type": "file", "holdout": 0.25, "split_seed": 0}
    assert np.isfinite(job.result["eval"]["fd_nfe10"]) and np.isfinite(job.result["eval"]["fd_floor"])
    assert list(job.input_artifacts.values_list("id", flat=True)) == [art.pk]
    assert Artifact.objects.filter(job=job, kind="model").exists()


def test_a_bad_dataset_is_a_400_naming_data(api, dataset):
    art = dataset("samples.npy", npy_bytes(np.full((10, 2), 3.2, dtype=np.float32)))
    r = api.post("/api/jobs/", {"kind": "train", "params": {"data": {"artifact": art.pk}}}, format="json")
    assert r.status_code == 400
    assert r.json()["params"]["data"] == ["samples.npy holds values outside [-1, 1] (min 3.2, max 3.2); scale the "
                                          "data first, e.g. x / 127.5 - 1 for 8-bit pixels, or (x - mean) / (k * std) "
                                          "with k large enough"]


def test_data_fields_take_datasets_and_model_fields_take_models(api, dataset, make_job):
    data = dataset("points.npy", npy_bytes(np.zeros((10, 2), dtype=np.float32)))
    trainer = make_job("train", {})
    Job.objects.filter(pk=trainer.pk).update(status=Job.Status.SUCCEEDED)
    model = Artifact.objects.create(job=trainer, name="model.safetensors", kind="model", file="x", size=1, sha256="0")
    r = api.post("/api/jobs/", {"kind": "train", "params": {"data": {"artifact": model.pk}}}, format="json")
    assert r.status_code == 400 and r.json()["params"]["data.artifact"][0].startswith(f"no dataset artifact {model.pk}")
    r = api.post("/api/jobs/", {"kind": "train", "params": {"objective": "reflow", "model": {"artifact": data.pk}}},
                 format="json")
    assert r.status_code == 400 and r.json()["params"]["model.artifact"][0].startswith(f"no model artifact {data.pk}")


def test_an_oracle_on_a_fasta_dataset_needs_its_labels_and_reads_them(api, dataset):
    fasta = dataset("seqs.fa", b">a\nACGTACGT\n>b\nTTTTAAAA\n")
    labels = dataset("labels.csv", b"id,score\na,1\n")
    base = {"objective": "oracle", "data": {"artifact": fasta.pk}}
    r = api.post("/api/jobs/", {"kind": "train", "params": base}, format="json")
    assert r.status_code == 400 and "learns from labels" in r.json()["params"]["data.labels"][0]
    r = api.post("/api/jobs/", {"kind": "train", "params": {**base, "data": {**base["data"],
                                                                           "labels": {"artifact": labels.pk}}}},
                 format="json")
    assert r.status_code == 400 and r.json()["params"]["data.labels"] == [
        "labels.csv has no column 'activity' (its header: id, score)"]
