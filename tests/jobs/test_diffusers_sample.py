"""A diffusers model artifact sampled through the job system: API -> resolve -> a real worker -> artifacts.

The artifact is made here as the upload validation leaves one (its folder holds the unzipped unet/ and
scheduler/ next to model.zip), since `resolve` gives the runner the folder of the artifact's file.
"""
import hashlib
import shutil

import numpy as np
import pytest
import torch

from jobs.models import Artifact, Job
from jobs.tasks import job_dir
from tests.helpers import submit, succeeded
from tests.ml.sample.test_diffusers_unet import assert_parity, ddim_reference
from tests.ml.sample.unet_folder import make_unet_folder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.filesystem]  # its artifact is laid in MEDIA_ROOT by hand


def diffusers_artifact(user) -> Artifact:
    job = Job.objects.create(owner=user, kind="train", status="succeeded", params={})
    folder = make_unet_folder(job_dir(job), prediction_type="v_prediction")
    archive = shutil.make_archive(str(folder / "model"), "zip", folder, ".")
    data = open(archive, "rb").read()
    return Artifact.objects.create(job=job, name="model.zip", kind="model", file=f"jobs/{job.storage_key}/model.zip",
                                   size=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_a_diffusers_unet_artifact_is_sampled_by_a_worker(celery_worker, api, user):
    art = diffusers_artifact(user)
    job = succeeded(submit(api, "sample", {"model": {"artifact": art.pk}, "sampler": "ddim", "nfe": 10,
                                           "n_samples": 5, "save_noise": True}))
    assert list(job.input_artifacts.values_list("id", flat=True)) == [art.pk]
    assert job.result["prediction"] == "v" and job.result["schedule"] == "vp_discrete"
    arts = {a.name: a for a in Artifact.objects.filter(job=job)}
    assert arts["samples.png"].kind == "image"
    samples, noise = (np.load(arts[n].file.path) for n in ("samples.npy", "noise.npy"))
    assert samples.shape == (5, 1, 8, 8)
    # the worker's samples are diffusers' own DDIM from the job's noise
    assert_parity(torch.from_numpy(samples), ddim_reference(job_dir(art.job), 10, torch.from_numpy(noise)))


def test_a_masked_sampler_on_a_diffusers_unet_is_a_400_naming_the_field(api, user):
    art = diffusers_artifact(user)
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": art.pk}, "sampler": "mdlm_ddpm"}},
                 format="json")
    assert r.status_code == 400 and list(r.json()["params"]) == ["sampler"], r.content
