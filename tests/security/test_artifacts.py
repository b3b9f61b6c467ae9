"""Artifact names and files from a job: sanitised or refused; downloads stream as attachments;
models load only from safetensors + JSON."""
import re
from pathlib import Path

import pytest
import torch
from rest_framework.test import APIClient

from jobs.services import create_job
from jobs.models import Artifact, Job
from jobs.reporter import JobReporter, safe_artifact_name
from jobs.tasks import job_dir

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name, safe", [
    ("samples.npy", "samples.npy"),
    ("../../etc/passwd", "etc/passwd"),
    ("/etc/passwd", "etc/passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("a\x00b.txt", "ab.txt"),
    ("evil\r\nSet-Cookie: x=1.txt", "evilSet-Cookie: x=1.txt"),
    ("checkpoint/./state.json", "checkpoint/state.json"),
])
def test_names_are_sanitised(name, safe):
    assert safe_artifact_name(name) == safe


@pytest.mark.parametrize("name", ["", "..", "../..", "/", "\x00", " / . /"])
def test_names_that_name_nothing_are_refused(name):
    with pytest.raises(ValueError):
        safe_artifact_name(name)


@pytest.fixture
def reporter(user):
    job = create_job(user, "sample", {}, "", [], send=False)
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1)  # as a worker holds it
    job.refresh_from_db()
    rep = JobReporter(job, job_dir(job))
    yield rep
    rep.close()


def test_a_job_cannot_publish_a_file_outside_the_storage(reporter, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not the lab's")
    with pytest.raises(ValueError, match="outside"):
        reporter.artifact("secret.txt", outside, "report")
    link = reporter.out_dir / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(ValueError, match="outside"):
        reporter.artifact("link.txt", link, "report")
    assert not Artifact.objects.filter(job_id=reporter.job_id).exists()


def test_downloads_stream_as_attachments_with_their_type(reporter, user):
    files = {"report.json": (b'{"a": 1}', "application/json"), "samples.npy": (b"\x93NUMPY" + bytes(100),
             "application/octet-stream"), "evil.html": (b"<script>alert(1)</script>", "application/octet-stream")}
    for name, (data, _) in files.items():
        (reporter.out_dir / name).write_bytes(data)
        reporter.artifact(name if name != "report.json" else "../report.json", reporter.out_dir / name, "report")
    api = APIClient()
    api.force_authenticate(user)
    arts = {a["name"]: a for a in api.get(f"/api/jobs/{reporter.job_id}/artifacts/").json()}
    assert set(arts) == set(files)
    for name, (data, ctype) in files.items():
        r = api.get(arts[name]["url"])
        assert r.status_code == 200 and r.streaming
        assert b"".join(r.streaming_content) == data
        assert r["Content-Type"] == ctype  # html is never served as html: no script runs on our origin
        assert re.fullmatch(rf'attachment; filename="{re.escape(name)}"', r["Content-Disposition"])
        assert r["X-Content-Type-Options"] == "nosniff"


def test_models_load_only_from_safetensors_and_json(tmp_path):
    from ml.modelio import load_model

    torch.save({"weight": torch.zeros(2)}, tmp_path / "model.pt")  # a pickle: code could run on load
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path, "cpu")


def test_no_code_unpickles():
    """torch.load / pickle.load / np.load(allow_pickle=True) run code from the file they read."""
    pattern = re.compile(r"torch\.load\(|pickle\.loads?\(|allow_pickle\s*=\s*True|joblib\.load\(")
    found = [f"{p.relative_to(ROOT)}:{i}" for folder in ("ml", "jobs", "webapp", "frontend")
             for p in (ROOT / folder).rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
             if pattern.search(line) and "weights_only=True" not in line]
    assert found == []
