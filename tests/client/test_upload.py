"""`lab upload` and `Lab.upload` against the live server: a UNet folder zipped, uploaded in chunks and validated by
the worker; an upload whose connection is cut mid-chunk goes on from the offset the server holds."""
from __future__ import annotations

import hashlib

import pytest

from jobs.models import Artifact, Job
from labclient import Lab
from tests.ml.sample.unet_folder import make_unet_folder
from tests.ml.upload.zips import zip_folder

from .conftest import run_lab
from .cutting_proxy import CuttingProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.stores]


@pytest.mark.worker
def test_lab_upload_sends_a_model_and_watches_its_validation(celery_worker, live_server_url, lab_env, tmp_path):
    archive = zip_folder(make_unet_folder(tmp_path / "m"), tmp_path / "unet.zip")
    done = run_lab(lab_env(live_server_url), "upload", str(archive), "--kind", "model", "--format", "diffusers",
                   "--watch")
    assert done.returncode == 0, done.stderr
    art = Artifact.objects.get(pk=int(done.stdout.strip()))
    assert art.name == "unet.zip" and art.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert Job.objects.get(pk=art.job_id).status == "succeeded"


def test_an_upload_cut_mid_chunk_resumes_from_the_servers_offset(live_server_url, token, tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(50_000)))
    proxy = CuttingProxy(live_server_url, cut_after=1_500_000)  # mid second chunk (1 MiB in tests)
    try:
        art = Lab(proxy.url, token).upload(text, "dataset", "text")
    finally:
        proxy.close()
    assert proxy.cut.is_set()
    assert art["status"] == "succeeded" and art["size"] == text.stat().st_size
    assert art["sha256"] == hashlib.sha256(text.read_bytes()).hexdigest()
