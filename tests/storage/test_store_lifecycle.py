"""The object store's side of a job's life, in this process against moto's server: the collector keeps
what rows name and the newest checkpoint, removes the rest and prefixes no job owns, and measures what
stays; deleting a job deletes its objects; a fetched input is checked against its sha256 and cached."""
from __future__ import annotations

import hashlib
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import objectstore
from jobs.models import Artifact, Job
from jobs.retention import collect
from jobs.storeconfig import s3_storage
from jobs.transfer import cached_blob, input_folder, job_prefix
from tests.helpers import job_files

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def on_s3(s3, settings, monkeypatch, tmp_path):
    """This process's storage on a fresh bucket (the processes a lab starts get the same by env)."""
    bucket = s3.new_bucket()
    for name, value in s3.env(bucket).items():
        monkeypatch.setenv(name, value)
    settings.LAB_STORAGE_URL = f"s3://{bucket}/lab"
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(settings.LAB_STORAGE_URL, 60, "us-east-1")}
    settings.LAB_CACHE_DIR = tmp_path / "cache"
    objectstore._store_for.cache_clear()
    yield objectstore.store()
    objectstore._store_for.cache_clear()


def put(store, job, rel, data: bytes):
    store.put_bytes(job_prefix(job.storage_key) + rel, data)
    return job_prefix(job.storage_key) + rel


def finished(job):
    Job.objects.filter(pk=job.pk).update(status="succeeded", finished_at=timezone.now())
    return Job.objects.get(pk=job.pk)


def test_the_collector_keeps_what_rows_name_and_the_newest_checkpoint(on_s3, make_job, settings):
    store = on_s3
    settings.LAB_RETENTION_KEEP_CHECKPOINTS = 1
    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 0
    job = finished(make_job())
    model = put(store, job, "attempt-2/model.safetensors", b"m" * 1000)
    Artifact.objects.create(job=job, name="model.safetensors", kind="model", file=model, size=1000, sha256="x")
    put(store, job, "attempt-1/model.safetensors", b"o" * 700)  # an earlier attempt's, no row names it
    put(store, job, "attempt-1/checkpoint/step-25/tensors.safetensors", b"a" * 300)
    put(store, job, "attempt-1/checkpoint/manifest.json", b"{}")
    put(store, job, "attempt-2/checkpoint/step-50/tensors.safetensors", b"b" * 400)
    put(store, job, "attempt-2/checkpoint/manifest.json", b"{}")
    live = make_job()  # queued: never touched
    put(store, live, "attempt-1/checkpoint/manifest.json", b"{}")
    orphan = f"jobs/{uuid.uuid4()}/attempt-1/model.safetensors"
    store.put_bytes(orphan, b"z" * 50)
    before = {e.rel for e in store.list("jobs/")}

    dry = collect(dry_run=True)
    assert {e.rel for e in store.list("jobs/")} == before
    assert dry.bytes == 700 + 300 + 2 + 50

    report = collect()
    assert report.bytes == dry.bytes
    assert sorted(job_files(job)) == ["attempt-2/checkpoint/manifest.json",
                                      "attempt-2/checkpoint/step-50/tensors.safetensors", "attempt-2/model.safetensors"]
    assert Job.objects.get(pk=job.pk).bytes_stored == report.measured[job.pk] == 1000 + 400 + 2
    assert job_files(live) == {"attempt-1/checkpoint/manifest.json": 2}
    assert not any(e.rel == orphan for e in store.list("jobs/"))


def test_deleting_a_job_deletes_its_objects(on_s3, make_job, api):
    store = on_s3
    job = finished(make_job())
    other = finished(make_job())
    put(store, job, "attempt-1/checkpoint/manifest.json", b"{}")
    put(store, job, "attempt-1/samples.npy", b"s" * 10)
    put(store, other, "attempt-1/samples.npy", b"t" * 10)
    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 204
    assert job_files(job) == {}
    assert job_files(other) == {"attempt-1/samples.npy": 10}


def test_an_input_is_fetched_once_into_the_cache_and_checked_against_its_sha256(on_s3, make_job, settings):
    store = on_s3
    job = finished(make_job())
    weights, config = b"w" * 5000, b'{"arch": "x"}'
    rows = {}
    for name, kind, data in (("model.safetensors", "model", weights), ("model.json", "config", config)):
        rel = put(store, job, f"attempt-1/{name}", data)
        rows[name] = Artifact.objects.create(job=job, name=name, kind=kind, file=rel, size=len(data),
                                             sha256=hashlib.sha256(data).hexdigest())
    folder = input_folder(rows["model.safetensors"])
    assert (settings.LAB_CACHE_DIR / "models").as_posix() in folder
    from pathlib import Path

    assert (Path(folder) / "model.safetensors").read_bytes() == weights
    assert (Path(folder) / "model.json").read_bytes() == config
    # the submit-time check takes the small file only
    assert sorted(p.name for p in Path(input_folder(rows["model.safetensors"], config_only=True)).iterdir()) \
        == ["model.json"]
    # a second job on the node finds it in the cache: the store is not asked again (its object may go)
    store.delete([rows["model.safetensors"].file.name])
    assert input_folder(rows["model.safetensors"]) == folder

    # a model with the same weights and another config is a folder of its own
    twin = finished(make_job())
    for name, kind, data in (("model.safetensors", "model", weights), ("model.json", "config", b'{"arch": "y"}')):
        rel = put(store, twin, f"attempt-1/{name}", data)
        Artifact.objects.create(job=twin, name=name, kind=kind, file=rel, size=len(data),
                                       sha256=hashlib.sha256(data).hexdigest())
    twin_folder = input_folder(Artifact.objects.get(job=twin, name="model.safetensors"))
    assert twin_folder != folder and (Path(twin_folder) / "model.json").read_bytes() == b'{"arch": "y"}'

    # bytes that do not hash to what the lab recorded are never handed to a runner
    bad = put(store, job, "attempt-1/other.safetensors", b"tampered")
    with pytest.raises(objectstore.Corrupt, match="hash to"):
        cached_blob(bad, hashlib.sha256(b"original").hexdigest())
    assert not (settings.LAB_CACHE_DIR / "sha256" / hashlib.sha256(b"original").hexdigest()[:2]).exists() or \
        not any((settings.LAB_CACHE_DIR / "sha256" / hashlib.sha256(b"original").hexdigest()[:2]).iterdir())


def test_lab_gc_reports_the_store(on_s3, make_job, settings, capsys):
    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 0
    job = finished(make_job())
    put(on_s3, job, "attempt-1/stray.npy", b"q" * 30)
    call_command("lab_gc")
    assert f"removed {job.storage_key}/attempt-1/stray.npy (30 bytes): the job ended: no artifact names this object" \
        in capsys.readouterr().out
    assert job_files(job) == {}


def test_a_download_streams_from_the_store_or_redirects_to_a_short_lived_url_after_our_check(
        on_s3, make_job, api, other_user, settings):
    import httpx
    from rest_framework.test import APIClient

    job = finished(make_job())
    data = bytes(range(256)) * 4096  # 1 MiB
    rel = put(on_s3, job, "attempt-1/samples.npy", data)
    art = Artifact.objects.create(job=job, name="samples.npy", kind="samples", file=rel, size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest())
    url = f"/api/artifacts/{art.pk}/download/"
    r = api.get(url)
    assert r.status_code == 200 and b"".join(r.streaming_content) == data
    assert r["Content-Length"] == str(len(data)) and 'filename="samples.npy"' in r["Content-Disposition"]

    settings.LAB_STORAGE_REDIRECT_DOWNLOADS = True
    settings.LAB_STORAGE_URL_SECONDS = 60
    r = api.get(url)
    assert r.status_code == 302
    signed = httpx.get(r["Location"])
    assert signed.status_code == 200 and signed.content == data
    assert "X-Amz-Expires=60" in r["Location"] and "samples.npy" in signed.headers["content-disposition"]
    # the bucket is not public: the key alone, unsigned, is refused
    assert httpx.get(r["Location"].split("?")[0]).status_code == 403
    stranger = APIClient()
    stranger.force_authenticate(other_user)
    assert stranger.get(url).status_code == 404  # no URL is signed for someone who may not see it


def test_a_checkpoint_goes_up_whole_and_comes_back_as_it_was(on_s3, make_job, tmp_path):
    import torch

    from jobs.transfer import CheckpointSync, fetch_checkpoint
    from ml import checkpoint

    job = make_job()
    out = tmp_path / "attempt-1"
    sync = CheckpointSync(job.storage_key, 1, out, period=None)  # sent when the test says, not by the watcher
    try:
        # carried parts (sample's chunks): each step adds one, the earlier ones stay part of it
        for k in range(3):
            checkpoint.save(out / "checkpoint", k + 1, {f"{k}/x": torch.full((100,), float(k))}, {"chunks": k + 1},
                            carry=True)
            assert sync.sync()
        assert not sync.sync()  # nothing new: nothing sent
        checkpoint.save(out / "checkpoint", 10, {"w": torch.arange(5.0)}, {"final": True})  # one part again
    finally:
        sync.close()  # the last one goes up as the attempt ends
    stored = sorted(job_files(job))
    assert stored == ["attempt-1/checkpoint/manifest.json", "attempt-1/checkpoint/step-10/meta.json",
                      "attempt-1/checkpoint/step-10/tensors.safetensors"]  # the replaced parts are gone

    target = tmp_path / "attempt-2" / "checkpoint"
    assert fetch_checkpoint(job.storage_key, 2, target) == \
        "fetched the checkpoint of step 10 (attempt 1) from the object store"
    back = checkpoint.load(target)
    assert back.step == 10 and back.meta == {"final": True}
    torch.testing.assert_close(back.tensors["w"], torch.arange(5.0), rtol=0, atol=0)
    assert fetch_checkpoint(job.storage_key, 1, tmp_path / "none") is None  # attempt 1 has no earlier one


def test_checkpoints_in_the_store_written_for_other_params_are_not_resumed(on_s3, make_job, tmp_path):
    from jobs.transfer import claim_prefix, fetch_checkpoint

    job = make_job()
    assert claim_prefix(job.storage_key, {"seed": 3}, 1) is None  # the first attempt records its params
    put(on_s3, job, "attempt-1/checkpoint/manifest.json", b'{"step": 5, "parts": []}')
    assert claim_prefix(job.storage_key, {"seed": 3}, 2) is None  # same params: resumed from
    assert fetch_checkpoint(job.storage_key, 2, tmp_path / "a") is not None

    note = claim_prefix(job.storage_key, {"seed": 4}, 2)  # the row says other params now
    assert note.startswith("the job's checkpoints in the object store were written for other params (hash ")
    assert fetch_checkpoint(job.storage_key, 2, tmp_path / "b") is None
    assert sorted(job_files(job)) == ["params.sha256"]
