"""Admission on an object store (jobs/inputs.py): the headers of an uploaded model and data set are read with
ranged GETs, and a job refused for its size leaves nothing of them on the web process's disk."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tests.api.test_own_footprint import GB, TEXT, gpt2_folder, lm_estimate, post, upload_file, upload_folder  # noqa: F401
from tests.storage.test_store_lifecycle import on_s3  # noqa: F401 (the fixture: this process on a fresh bucket)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_lm_and_array_are_priced_from_ranged_reads_and_never_fetched(on_s3, api, user, gpt2_folder,
                                                                                settings):
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = GB + 10**6
    model = upload_folder(user, gpt2_folder)["model.safetensors"]
    text = upload_file(user, "calibration.txt", TEXT)
    r = post(api, "quantize", {"model": {"artifact": model.pk}, "calibration": {"artifact": text.pk},
                               "n_calibration": 4, "seq_len": 32})
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == lm_estimate(gpt2_folder, 4, 32, 4, len(TEXT))

    buf = io.BytesIO()
    np.save(buf, np.zeros((4000, 256), dtype=np.float32))  # 4 MB, 8 MB as the training copies
    data = upload_file(user, "rows.npy", buf.getvalue())
    assert on_s3.read_range(data.file.name, 1, 5) == b"NUMPY"
    r = post(api, "train", {"data": {"artifact": data.pk}, "arch": "mlp", "width": 4, "depth": 1, "batch_size": 1})
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == GB + 24 * 4 * 4 ** 2 + 32 * 4 + 8 * 4000 * 256
    assert r.json()["estimate"]["fields"] == ["data"]
    cache = Path(settings.LAB_CACHE_DIR)
    assert not cache.exists() or not [f for f in cache.rglob("*") if f.is_file()]
