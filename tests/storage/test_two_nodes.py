"""Two workers that share no disk, only the object store: a training whose node dies (SIGKILL of the
whole worker) resumes on the other from its last checkpoint in the store, to the result an undisturbed
run gets; its model comes down through the web server (a third folder) as the bytes that were uploaded;
a `sample` job on the surviving node uses that model, fetched into its cache."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load as load_tensors

from tests.reliability.http_client import assert_whole_history, client, follow, is_progress, is_terminal, stored_events, submit

# the reliability suite's small rectified flow, long enough to be killed after its second checkpoint
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 300, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 10, "checkpoint_every": 25, "eval_every": 1000, "log_every": 50,
         "eval_samples": 64, "seed": 3, "device": "cpu"}
# the worker-loss window of the fault lab (10 s stale) plus a training of seconds, run twice
pytestmark = pytest.mark.timeout(300)


def stored_manifest(lab, job_id, attempt):
    key = f"lab/jobs/{storage_key(lab, job_id)}/attempt-{attempt}/checkpoint/manifest.json"
    try:
        return json.loads(lab.s3.get_object(Bucket=lab.bucket, Key=key)["Body"].read())
    except lab.s3.exceptions.NoSuchKey:
        return None


def storage_key(lab, job_id):
    return lab.job_folder(job_id).name


def logs(events):
    return [e["data"]["text"] for e in events if e["type"] == "log"]


def artifacts(lab, job_id):
    return {a["name"]: a for a in client(lab).get(f"/api/jobs/{job_id}/artifacts/").json()}


def wait_for_stored_checkpoint(lab, job_id, attempt, min_step, timeout=60.0):
    """The store holds a complete checkpoint of at least `min_step` (polled: S3 sends no events)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = stored_manifest(lab, job_id, attempt)
        if m and m["step"] >= min_step:
            return m
        time.sleep(0.05)
    raise TimeoutError(f"no checkpoint of step >= {min_step} in the store after {timeout}s")


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_job_moves_to_another_node_through_the_store_and_its_model_serves_a_sample_job(nodes):
    lab = nodes
    lab.node("a")
    job_id = submit(lab, TRAIN, kind="train")
    seen = follow(lab, job_id, is_progress(60))
    wait_for_stored_checkpoint(lab, job_id, attempt=1, min_step=50)
    lab.kill_worker("a")  # the node is lost: nobody requeues, the reaper of another node does
    at_kill = stored_manifest(lab, job_id, attempt=1)
    root_b = lab.node("b")
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"], timeout=180)

    events = stored_events(lab, job_id)
    assert assert_whole_history(events) == ["queued", "running", "queued", "running", "succeeded"]
    text = logs(events)
    step = at_kill["step"]
    # node b had no folder of the job: it took the checkpoint the store held when a died, and went on from it
    assert f"fetched the checkpoint of step {step} (attempt 1) from the object store" in text, text
    assert f"resumed from step {step}, attempt 2" in text, text
    after = [e["data"]["done"] for e in events if e["type"] == "progress"][-1]
    assert after == TRAIN["steps"]
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["worker"].startswith("b@")

    # the model through the web server, which has a folder of its own and no file of the job in it
    arts = artifacts(lab, job_id)
    model = arts["model.safetensors"]
    body = client(lab).get(model["url"]).content
    stored = lab.s3.get_object(Bucket=lab.bucket, Key=f"lab/jobs/{storage_key(lab, job_id)}/attempt-2/model.safetensors")
    assert body == stored["Body"].read()
    import hashlib

    assert hashlib.sha256(body).hexdigest() == model["sha256"]
    assert len(body) == model["size"]
    assert not (lab.folders["web"] / "jobs").exists()
    # b keeps nothing of an ended job (the store has it); a's folder holds only what a wrote before dying
    assert not (root_b / "media" / "jobs" / storage_key(lab, job_id)).exists()
    assert job["bytes_stored"] >= model["size"]

    # a sample job on b reads that model from its cache
    sample = submit(lab, {"model": {"artifact": model["id"]}, "sampler": "rf_euler", "nfe": 8, "n_samples": 256,
                          "seed": 1, "device": "cpu"})
    follow(lab, sample, is_terminal)
    done = client(lab).get(f"/api/jobs/{sample}/").json()
    assert done["status"] == "succeeded", done["error"]
    cached = files_under(root_b / "cache")
    assert f"sha256/{model['sha256'][:2]}/{model['sha256']}" in cached
    samples = np.load(__import__("io").BytesIO(client(lab).get(artifacts(lab, sample)["samples.npy"]["url"]).content))
    assert samples.shape == (256, 2) and np.isfinite(samples).all()

    # the same params undisturbed, on b: the moved run ended where it would have (resume is bitwise; 1e-6
    # relative allows for a BLAS kernel chosen by alignment, as tests/ml/train/test_loop.py)
    ref = submit(lab, TRAIN, kind="train")
    follow(lab, ref, is_terminal, timeout=180)
    ref_job = client(lab).get(f"/api/jobs/{ref}/").json()
    assert ref_job["status"] == "succeeded"
    assert job["result"]["final_loss"] == pytest.approx(ref_job["result"]["final_loss"], rel=1e-6)
    ref_body = client(lab).get(artifacts(lab, ref)["model.safetensors"]["url"]).content
    moved, undisturbed = load_tensors(body), load_tensors(ref_body)
    assert moved.keys() == undisturbed.keys()
    for name in moved:
        torch.testing.assert_close(moved[name], undisturbed[name], rtol=1e-6, atol=1e-7)
