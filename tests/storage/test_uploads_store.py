"""Uploads with the object store (LAB_STORAGE_URL): the bytes go to the bucket, a worker with a folder of its own
fetches them, validates the model and publishes its files to the store; a sample job on that worker then reads
the folder from its cache; a tiny GPT-2 and its text the same way for `quantize`."""
import io

import numpy as np
import pytest

from tests.ml.sample.unet_folder import make_unet_folder
from tests.ml.upload.zips import zip_folder
from tests.reliability.http_client import client, follow, is_terminal, submit

pytestmark = pytest.mark.timeout(600)


def upload(lab, path, kind, fmt) -> dict:
    with open(path, "rb") as f:
        r = client(lab).post("/api/artifacts/", files={"file": (path.name, f)}, data={"kind": kind, "format": fmt})
    assert r.status_code == 201, r.text
    return r.json()


def finished(lab, job_id) -> dict:
    follow(lab, job_id, is_terminal, timeout=300)
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded", job["error"]
    return job


def test_uploads_go_through_the_store_to_a_worker_that_shares_no_disk(nodes, tmp_path, tmp_path_factory):
    lab = nodes
    root = lab.node("up")
    art = upload(lab, zip_folder(make_unet_folder(tmp_path / "m"), tmp_path / "unet.zip"), "model", "diffusers")
    check = finished(lab, art["job"])
    assert check["kind"] == "upload" and check["result"]["format"] == "diffusers"
    objects = [o["Key"] for o in lab.s3.list_objects_v2(Bucket=lab.bucket, Prefix="lab/jobs/")["Contents"]]
    assert any(k.endswith("/unet.zip") for k in objects)
    assert any(k.endswith("/unet/diffusion_pytorch_model.safetensors") for k in objects)
    assert not (lab.folders["web"] / "jobs").exists()  # the web node kept nothing of the upload

    job = finished(lab, submit(lab, {"model": {"artifact": art["id"]}, "sampler": "dpm_solver_pp_2m", "nfe": 6,
                                     "n_samples": 3, "device": "cpu"}))
    arts = {a["name"]: a for a in client(lab).get(f"/api/jobs/{job['id']}/artifacts/").json()}
    samples = np.load(io.BytesIO(client(lab).get(arts["samples.npy"]["url"]).content))
    assert samples.shape == (3, 1, 8, 8) and np.isfinite(samples).all()
    assert (root / "cache").is_dir()

    from ml.quantize.tiny_lm import tiny_gpt2
    folder, text = tiny_gpt2(tmp_path_factory.getbasetemp() / "tiny_lm")
    lm = upload(lab, zip_folder(folder, tmp_path / "lm.zip"), "model", "transformers")
    calib = upload(lab, text, "dataset", "text")
    finished(lab, lm["job"])
    q = finished(lab, submit(lab, {"model": {"artifact": lm["id"]}, "calibration": {"artifact": calib["id"]},
                                   "method": "rtn", "bits": 4, "group_size": -1, "n_calibration": 8, "seq_len": 64,
                                   "device": "cpu"}, kind="quantize"))
    assert q["result"]["metric_name"] == "perplexity" and q["result"]["metric_after"] > 1
