"""A transformers causal LM and a calibration text, stored as artifacts, quantized by a real worker: the job
resolves both references to files, reports perplexity before and after, and its model.zip is what
transformers loads (the quality claims are tested in tests/ml/quantize/test_transformers.py)."""
import hashlib
import math
import shutil
import zipfile

import pytest
import torch

from jobs.models import Artifact, Job
from jobs.tasks import job_dir
from ml.quantize.hf_text import token_windows
from ml.quantize.tiny_lm import tiny_gpt2
from tests.helpers import submit, succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.filesystem]  # its artifacts are laid in MEDIA_ROOT by hand


def stored(make_job, src, file_name, kind):
    """An artifact of a finished job holding `src` (a folder or a file) in its job folder; the artifact's
    file is `file_name` inside it (the job system reads an artifact's folder)."""
    job = make_job("quantize", {})
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    dest = job_dir(job) / "input"
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        dest.mkdir(parents=True)
        shutil.copy2(src, dest / src.name)
    data = (dest / file_name).read_bytes()
    return Artifact.objects.create(job=job, name=file_name, kind=kind, file=f"jobs/{job.storage_key}/input/{file_name}",
                                   size=len(data), sha256=hashlib.sha256(data).hexdigest())


def test_a_stored_causal_lm_is_quantized_on_a_stored_text(celery_worker, api, make_job, tmp_path_factory, tmp_path):
    folder, text = tiny_gpt2(tmp_path_factory.getbasetemp() / "tiny_lm")
    model = stored(make_job, folder, "config.json", "model")
    calib = stored(make_job, text, text.name, "dataset")
    job = succeeded(submit(api, "quantize", {"model": {"artifact": model.pk}, "calibration": {"artifact": calib.pk},
                                             "method": "gptq", "bits": 3, "group_size": -1, "n_calibration": 16,
                                             "seq_len": 64}))
    res = job.result
    # wiring, not quality (tests/ml/quantize/test_transformers.py orders the methods by perplexity)
    assert res["metric_name"] == "perplexity" and res["metric_before"] > 1
    assert res["metric_after"] != res["metric_before"]
    assert sorted(job.input_artifacts.values_list("id", flat=True)) == sorted([model.pk, calib.pk])
    names = set(Artifact.objects.filter(job=job).values_list("name", flat=True))
    assert {"model.safetensors", "model.json", "model.zip", "layers.json"} <= names

    from transformers import AutoModelForCausalLM, AutoTokenizer
    with zipfile.ZipFile(Artifact.objects.get(job=job, name="model.zip").file.path) as z:
        z.extractall(tmp_path)
    lm = AutoModelForCausalLM.from_pretrained(tmp_path / "model").eval()
    tok = AutoTokenizer.from_pretrained(tmp_path / "model")
    _, held = token_windows(tok, text.read_text(), 64, 1, 0)
    with torch.no_grad():
        loss = sum(float(lm(input_ids=w, labels=w).loss) * len(w) for w in held.split(16)) / len(held)
    assert math.exp(loss) == pytest.approx(res["metric_after"], rel=1e-5)


def test_a_calibration_reference_to_someone_elses_text_is_refused(api, make_job, other_user, tmp_path_factory):
    folder, text = tiny_gpt2(tmp_path_factory.getbasetemp() / "tiny_lm")
    model = stored(make_job, folder, "config.json", "model")
    theirs = stored(lambda kind, params: make_job(kind, params, owner=other_user), text, text.name, "dataset")
    r = api.post("/api/jobs/", {"kind": "quantize", "params": {"model": {"artifact": model.pk},
                                                               "calibration": {"artifact": theirs.pk}}}, format="json")
    assert r.status_code == 400 and "calibration.artifact" in r.content.decode()
