"""POST /api/artifacts/ through the API and a real worker: bad uploads refused with the reason and nothing written;
a diffusers UNet uploaded and sampled; a tiny GPT-2 and a text uploaded and quantized; a model whose weights do not
load ends its validation job failed, and its artifact cannot be used."""
from pathlib import Path

import pytest
import torch
from django.conf import settings

from jobs.models import Artifact, Job
from jobs.projects import Membership, Project
from jobs.tasks import job_dir
from tests.helpers import submit, succeeded, wait_for_status
from tests.ml.sample.test_diffusers_unet import assert_parity, ddim_reference
from tests.ml.sample.unet_folder import make_unet_folder
from tests.ml.upload.zips import bomb, with_member, zip_folder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.filesystem]  # reads MEDIA_ROOT's layout


def media_files(skip: Path | None = None) -> dict[str, int]:
    """Every file under MEDIA_ROOT (but `skip`'s), with its size: what an upload may not have written."""
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and not (skip and p.is_relative_to(skip))} if root.is_dir() else {}


def upload(api, path: Path, kind: str, fmt: str, **extra):
    with open(path, "rb") as f:
        return api.post("/api/artifacts/", {"file": f, "kind": kind, "format": fmt, **extra}, format="multipart")


@pytest.fixture
def unet_zip(tmp_path):
    return zip_folder(make_unet_folder(tmp_path / "unet_model"), tmp_path / "unet.zip")


def _pickle_zip(tmp_path):
    folder = make_unet_folder(tmp_path / "pickled")
    torch.save({"w": torch.zeros(2)}, folder / "unet" / "diffusion_pytorch_model.bin")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    return zip_folder(folder, tmp_path / "pickled.zip")


def _no_config_zip(tmp_path):
    from ml.quantize.tiny_lm import tiny_gpt2

    folder, _text = tiny_gpt2(tmp_path.parent / "tiny_lm")  # basetemp/tiny_lm: trained once, shared with the other tests
    z = zip_folder(folder, tmp_path / "lm.zip")
    import zipfile
    kept = tmp_path / "lm_no_config.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(kept, "w") as dst:
        for info in src.infolist():
            if info.filename != "config.json":
                dst.writestr(info, src.read(info))
    return kept


BAD = {
    "traversal": ("diffusers", lambda tp: with_member(make_unet_folder(tp / "m"), tp / "t.zip", "../../escaped.txt"),
                  "member '../../escaped.txt' points outside the archive's folder (path traversal)"),
    "symlink": ("diffusers", lambda tp: with_member(make_unet_folder(tp / "m"), tp / "l.zip", "unet/extra.safetensors",
                                                    b"/etc/passwd", link=True),
                "member 'unet/extra.safetensors' is a symbolic link"),
    "bomb": ("diffusers", lambda tp: bomb(tp / "bomb.zip"), "above the limit of 100:1 (a zip bomb?)"),
    "pickle": ("diffusers", _pickle_zip, "unet/diffusion_pytorch_model.bin: pickled files are refused"),
    "no_config": ("transformers", _no_config_zip, "no config.json in this transformers folder"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_archive_is_a_400_naming_why_and_writes_nothing(api, tmp_path, case):
    fmt, make, reason = BAD[case]
    path = make(tmp_path)
    before = media_files()
    r = upload(api, path, "model", fmt)
    assert r.status_code == 400, r.content
    assert list(r.json()) == ["file"] and reason in r.json()["file"][0], r.json()
    assert media_files() == before
    assert not Job.objects.exists() and not Artifact.objects.exists()
    assert not (Path(settings.MEDIA_ROOT).parent / "escaped.txt").exists()


def test_fields_are_named_when_wrong(api, unet_zip):
    r = upload(api, unet_zip, "weights", "diffusers")
    assert r.status_code == 400 and list(r.json()) == ["kind"], r.content
    r = upload(api, unet_zip, "dataset", "diffusers")
    assert r.status_code == 400 and r.json()["format"] == ["'diffusers' is not a format of a dataset: one of npy, "
                                                           "text, fasta, csv"]
    r = api.post("/api/artifacts/", {"kind": "model", "format": "diffusers"}, format="multipart")
    assert r.status_code == 400 and list(r.json()) == ["file"]
    r = upload(api, unet_zip, "model", "diffusers", project=999999)
    assert r.status_code == 400 and list(r.json()) == ["project"]
    r = api.post("/api/artifacts/", {"upload": "x", "kind": "model", "format": "lab", "project": 10**30}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["project"]
    r = api.post("/api/artifacts/", {"upload": ["x"], "kind": ["model"], "format": {}}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["upload"], r.content


def test_upload_jobs_are_not_made_or_retried_through_the_jobs_api(api, unet_zip):
    r = api.post("/api/jobs/", {"kind": "upload", "params": {"kind": "model", "format": "lab", "file": "x.zip",
                                                             "path": "/etc/passwd"}}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["kind"]  # not among the kinds a user launches
    job = upload(api, unet_zip, "model", "diffusers").json()["job"]
    r = api.post(f"/api/jobs/{job}/retry/")
    assert r.status_code == 400 and "upload the file again" in r.json()["kind"][0]


def test_viewers_cannot_upload_into_their_project(api, user, other_user, unet_zip):
    project = Project.objects.create(name="enhancers")
    Membership.objects.create(project=project, user=other_user, role="admin")
    Membership.objects.create(project=project, user=user, role="viewer")
    r = upload(api, unet_zip, "model", "diffusers", project=project.pk)
    assert r.status_code == 403 and "viewers of project" in r.json()["detail"]


def test_the_per_file_and_per_project_limits_hold(api, unet_zip, settings):
    size = unet_zip.stat().st_size
    settings.LAB_UPLOAD_MAX_BYTES = size - 1
    r = upload(api, unet_zip, "model", "diffusers")
    assert r.status_code == 400 and f"is {size} bytes, more than the limit of {size - 1}" in r.json()["file"][0]
    settings.LAB_UPLOAD_MAX_BYTES = size
    settings.LAB_UPLOAD_PROJECT_MAX_BYTES = 2 * size - 1
    assert upload(api, unet_zip, "model", "diffusers").status_code == 201
    r = upload(api, unet_zip, "model", "diffusers")
    assert r.status_code == 400 and f"holds {size} bytes of uploads" in r.json()["file"][0]


@pytest.mark.worker
def test_an_uploaded_unet_is_validated_then_sampled(api, celery_worker, unet_zip, tmp_path):
    import diffusers

    r = upload(api, unet_zip, "model", "diffusers")
    assert r.status_code == 201, r.content
    answer = r.json()
    assert (answer["name"], answer["kind"], answer["format"]) == ("unet.zip", "model", "diffusers")
    assert answer["status"] in ("queued", "running")  # a model is loaded by a worker, which may have started
    check = succeeded(answer["job"])
    assert check.kind == "upload" and check.queue == "cpu"
    unet = diffusers.UNet2DModel.from_pretrained(str(tmp_path / "unet_model" / "unet"))
    assert check.result["parameters"] == sum(p.numel() for p in unet.parameters())
    assert check.result["dtype"] == "F32" and check.result["config"]["_class_name"] == "UNet2DModel"
    kinds = dict(Artifact.objects.filter(job=check).values_list("name", "kind"))
    # the archive is the model to pick; the files beside it make its folder
    assert kinds == {"unet.zip": "model", "unet/config.json": "config", "scheduler/scheduler_config.json": "config",
                     "unet/diffusion_pytorch_model.safetensors": "weights"}
    # the attempt's unpacked copy is gone once the job ended: the published files are the folder
    assert sorted(p.name for p in job_dir(check).iterdir()) == ["attempt-1", "params.sha256", "scheduler", "unet",
                                                                "unet.zip"]
    assert not any(job_dir(check).joinpath("attempt-1").iterdir())

    job = succeeded(submit(api, "sample", {"model": {"artifact": answer["id"]}, "sampler": "ddim", "nfe": 10,
                                           "n_samples": 4, "save_noise": True}))
    import numpy as np
    arts = {a.name: a for a in Artifact.objects.filter(job=job)}
    samples, noise = (torch.from_numpy(np.load(arts[n].file.path)) for n in ("samples.npy", "noise.npy"))
    assert samples.shape == (4, 1, 8, 8)
    assert_parity(samples, ddim_reference(tmp_path / "unet_model", 10, noise))  # diffusers' own DDIM, same noise


@pytest.mark.worker
def test_a_model_whose_weights_do_not_load_fails_its_validation_and_cannot_be_used(api, celery_worker, tmp_path):
    folder = make_unet_folder(tmp_path / "broken")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file at all")
    r = upload(api, zip_folder(folder, tmp_path / "broken.zip"), "model", "diffusers")
    assert r.status_code == 201, r.content
    job_id = r.json()["job"]
    before = media_files(skip=job_dir(Job.objects.get(pk=job_id)))
    check = wait_for_status(job_id, {"succeeded", "failed"}, timeout=120)
    assert check.status == "failed"
    assert "unet/diffusion_pytorch_model.safetensors" not in check.error  # the file's own name is enough
    assert "diffusion_pytorch_model.safetensors is not a readable safetensors file" in check.error, check.error
    assert media_files(skip=job_dir(check)) == before
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": r.json()["id"]}}}, format="json")
    assert r.status_code == 400 and "which has not succeeded (failed)" in r.json()["params"]["model.artifact"][0]


@pytest.mark.worker
def test_a_tiny_gpt2_and_a_text_uploaded_are_quantized(api, celery_worker, tmp_path, tmp_path_factory):
    from ml.quantize.tiny_lm import tiny_gpt2

    folder, text = tiny_gpt2(tmp_path_factory.getbasetemp() / "tiny_lm")
    r = upload(api, zip_folder(folder, tmp_path / "lm.zip"), "model", "transformers")
    assert r.status_code == 201, r.content
    model = r.json()
    r = upload(api, text, "dataset", "text")
    assert r.status_code == 201, r.content
    calib = r.json()
    # a text is read whole by the web process: usable at once, its summary the result
    assert calib["status"] == "succeeded" and calib["result"]["characters"] == len(text.read_text())
    check = succeeded(model["job"])
    from transformers import AutoModelForCausalLM
    lm = AutoModelForCausalLM.from_pretrained(folder)
    # the tensors in the files: the head is tied to the embedding, so stored (and counted) once
    assert check.result["parameters"] == sum(p.numel() for p in lm.parameters())
    assert check.result["blocks"] == 2 and check.result["config"]["model_type"] == "gpt2"
    job = succeeded(submit(api, "quantize", {"model": {"artifact": model["id"]}, "calibration": {"artifact": calib["id"]},
                                             "method": "gptq", "bits": 3, "group_size": -1, "n_calibration": 16,
                                             "seq_len": 64}))
    assert job.result["metric_name"] == "perplexity" and job.result["metric_before"] > 1
    assert sorted(job.input_artifacts.values_list("id", flat=True)) == sorted([model["id"], calib["id"]])


def test_datasets_are_read_whole_at_once_a_bad_one_is_a_400(api, tmp_path):
    import numpy as np

    np.save(tmp_path / "points.npy", np.zeros((20, 2), dtype=np.float32))
    r = upload(api, tmp_path / "points.npy", "dataset", "npy")
    assert r.status_code == 201 and r.json()["status"] == "succeeded" and r.json()["result"]["shape"] == [20, 2]
    np.save(tmp_path / "pixels.npy", np.full((4, 1, 2, 2), 255, dtype=np.float32))
    before = media_files()
    r = upload(api, tmp_path / "pixels.npy", "dataset", "npy")
    assert r.status_code == 400 and r.json()["file"][0].startswith("pixels.npy holds values outside [-1, 1]")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    r = upload(api, tmp_path / "objects.npy", "dataset", "npy")
    assert r.status_code == 400 and "objects.npy" in r.json()["file"][0]  # never unpickled
    (tmp_path / "seqs.fa").write_text("ACGT\n")
    r = upload(api, tmp_path / "seqs.fa", "dataset", "fasta")
    assert r.status_code == 400 and "holds bases before the first '>' header" in r.json()["file"][0]
    assert media_files() == before and Job.objects.count() == 1
