"""A diffusers UNet artifact trained further through the job system (API -> resolve -> a real worker ->
artifacts), then sampled by a second job from the artifact the first one made.

The input model is laid where the lab keeps files (MEDIA_ROOT or the object store, tests.helpers.store_artifact)
as an upload leaves one: the folder's files and model.zip, so the test runs with either storage.
"""
import io
import zipfile

import numpy as np
import pytest
import torch

from jobs.models import Artifact, Job
from tests.helpers import store_artifact, submit, succeeded
from tests.ml.sample.unet_folder import make_unet_folder

pytestmark = [pytest.mark.django_db(transaction=True)]

FAST = {"objective": "vp_v", "steps": 6, "batch_size": 8, "lr": 1e-3, "warmup_steps": 1, "checkpoint_every": 3,
        "eval_every": 1000, "eval_samples": 16, "ref_nfe": 10}


def published(job, folder):
    """The diffusers folder's files and its zip as artifacts of `job`; returns model.zip's."""
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in files:
            name = f.relative_to(folder).as_posix()
            z.write(f, name)
            store_artifact(job, name, "model" if f.suffix == ".safetensors" else "config", f.read_bytes())
    return store_artifact(job, "model.zip", "model", buf.getvalue())


@pytest.fixture
def uploads(user, tmp_path):
    """An ended job holding a v-prediction UNet2DModel on 1 x 8 x 8 images and a dataset of such images."""
    job = Job.objects.create(owner=user, kind="train", status="succeeded", params={})
    model = published(job, make_unet_folder(tmp_path / "unet", prediction_type="v_prediction"))
    x = np.random.default_rng(0).uniform(-1, 1, (40, 1, 8, 8)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x)
    data = store_artifact(job, "images.npy", "dataset", buf.getvalue())
    big = io.BytesIO()
    np.save(big, np.zeros((8, 1, 16, 16), dtype=np.float32))
    return model, data, store_artifact(job, "big.npy", "dataset", big.getvalue())


@pytest.mark.worker
def test_a_diffusers_unet_is_trained_by_a_worker_and_its_output_sampled(celery_worker, api, uploads):
    model, data, _ = uploads
    job = succeeded(submit(api, "train", {**FAST, "model": {"artifact": model.pk}, "data": {"artifact": data.pk}}))
    assert sorted(job.input_artifacts.values_list("id", flat=True)) == sorted([model.pk, data.pk])
    assert job.result["arch"] == "diffusers.UNet2DModel" and job.result["prediction_type"] == "v_prediction"
    assert job.result["resumed_from"] is None and np.isfinite(job.result["final_loss"])
    arts = {a.name: a for a in Artifact.objects.filter(job=job)}
    assert {n: arts[n].kind for n in ("model.zip", "unet/diffusion_pytorch_model.safetensors", "unet/config.json",
                                      "scheduler/scheduler_config.json")} == {
        "model.zip": "model", "unet/diffusion_pytorch_model.safetensors": "model", "unet/config.json": "config",
        "scheduler/scheduler_config.json": "config"}
    # the trained weights are not the uploaded ones
    from safetensors.torch import load as load_bytes

    weights = "unet/diffusion_pytorch_model.safetensors"
    before, after = (load_bytes(Artifact.objects.get(job=j, name=weights).file.open("rb").read())
                     for j in (model.job, job))
    assert max((after[k] - before[k]).abs().max().item() for k in before) > 1e-4

    out = succeeded(submit(api, "sample", {"model": {"artifact": arts["model.zip"].pk}, "sampler": "ddim", "nfe": 5,
                                           "n_samples": 3}))
    assert out.result["prediction"] == "v" and out.result["schedule"] == "vp_discrete"
    samples = np.load(io.BytesIO(Artifact.objects.get(job=out, name="samples.npy").file.open("rb").read()))
    assert samples.shape == (3, 1, 8, 8) and np.isfinite(samples).all()
    assert torch.from_numpy(samples).abs().max() < 1e3   # finite, not blown up, on 5 DDIM steps


def test_data_of_another_shape_is_a_400_naming_data(api, uploads):
    model, _, big = uploads
    r = api.post("/api/jobs/", {"kind": "train", "params": {**FAST, "model": {"artifact": model.pk},
                                                             "data": {"artifact": big.pk}}}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["params"] == {"data": ["the data's images [C, H, W] = [1, 16, 16]; the UNet takes images "
                                           "[C, H, W] = [1, 8, 8] (in_channels 1, sample_size 8): give images of "
                                           "that size"]}
