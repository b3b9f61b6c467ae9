"""Admission of own models and data (jobs/inputs.py, ml/inputs.py): a job is priced by the headers of the files
it names, so a large LM, a large UNet or a large array is a 400 at submit time, with the estimate, its formula
and the fields to lower. The numbers expected here are the docstrings' formulas (ml/quantize/footprint.py,
ml/sample/footprint.py, ml/train/footprint.py) worked out from what the files hold, read with safetensors and
numpy themselves. Files are laid where the lab keeps them (MEDIA_ROOT or the object store): the same tests run
on both storages (`LAB_TEST_STORAGE=s3`), where the headers come from ranged GETs."""
import json
import math

import numpy as np
import pytest
from safetensors import safe_open

from jobs.models import Job
from tests.helpers import store_artifact

pytestmark = pytest.mark.django_db

GB = 10**9


def post(api, kind, params):
    return api.post("/api/jobs/", {"kind": kind, "params": params}, format="json")


def upload_folder(user, folder, name="upload"):
    """Every file of a model folder as an artifact of one ended job (weights kind model, the rest config) and the
    folder zipped as model.zip, as an upload leaves them; returns the artifacts by relative name."""
    import io
    import zipfile

    job = Job.objects.create(owner=user, kind="train", status="succeeded", params={}, name=name)
    files = [f for f in sorted(folder.rglob("*")) if f.is_file()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in files:
            z.write(f, f.relative_to(folder).as_posix())
    arts = {f.relative_to(folder).as_posix(): store_artifact(job, f.relative_to(folder).as_posix(),
                                                             "model" if f.suffix == ".safetensors" else "config",
                                                             f.read_bytes()) for f in files}
    return {**arts, "model.zip": store_artifact(job, "model.zip", "model", buf.getvalue())}


def upload_file(user, name, data: bytes):
    job = Job.objects.create(owner=user, kind="train", status="succeeded", params={}, name=name)
    return store_artifact(job, name, "dataset", data)


# --- a transformers causal LM in quantize ---

TEXT = ("The quick brown fox jumps over the lazy dog. " * 60).encode()  # 2,700 bytes


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    """A random GPT-2 (2 blocks of width 128, 512 tokens) as save_pretrained writes it."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gpt2")
    GPT2LMHeadModel(GPT2Config(vocab_size=512, n_positions=128, n_embd=128, n_layer=2, n_head=2)).save_pretrained(
        folder, safe_serialization=True)
    return folder


def lm_estimate(folder, n, s, bits, text_bytes):
    """ml/quantize/footprint.py's formula from the file's tensors (safetensors' own reader) and config.json."""
    cfg = json.loads((folder / "config.json").read_text())
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    blocks = [sum(math.prod(v) for k, v in shapes.items() if k.startswith(f"transformer.h.{i}."))
              for i in range(cfg["n_layer"])]
    outside = sum(math.prod(v) for v in shapes.values()) - sum(blocks)
    widest = max(d for k, v in shapes.items() if k.startswith("transformer.h.") and len(v) == 2 for d in v)
    assert widest == 4 * cfg["n_embd"]  # the MLP's intermediate size, the widest layer input (its c_proj)
    h, vocab = cfg["n_embd"], cfg["vocab_size"]
    return (GB + 4 * outside + 4 * max(blocks) + math.ceil(sum(blocks) * bits / 8)
            + 8 * h * max(n * s, math.ceil(text_bytes / 10)) + 24 * widest ** 2 + 64 * s * (vocab + widest)
            + 176 * text_bytes)


def lm_params(api, user, gpt2_folder):
    model = upload_folder(user, gpt2_folder)["model.safetensors"]
    text = upload_file(user, "calibration.txt", TEXT)
    return {"model": {"artifact": model.pk}, "calibration": {"artifact": text.pk}, "method": "gptq", "bits": 4,
            "n_calibration": 4, "seq_len": 32}


def test_a_causal_lm_over_the_memory_limit_is_a_400_naming_model_with_its_estimate(api, user, gpt2_folder, settings):
    params = lm_params(api, user, gpt2_folder)
    expected = lm_estimate(gpt2_folder, 4, 32, 4, len(TEXT))
    # the builtin models' estimate is the 1 GB runtime alone: a limit 1 MB above it holds them, not this LM
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = GB + 10**6
    assert expected > GB + 10**6
    r = post(api, "quantize", params)
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["estimate"]["memory_bytes"] == expected
    assert body["estimate"]["fields"][0] == "model"  # the largest term is the model's own
    [reason] = body["params"]
    assert reason.startswith(f"needs about {expected / GB:.3g} GB of memory on the worker ((parameters outside the "
                             f"blocks ")
    assert "the limit is 1 GB; lower model" in reason
    assert Job.objects.filter(kind="quantize").count() == 0


def test_the_same_lm_is_accepted_at_its_estimate_and_under_the_default_limit(api, user, gpt2_folder, settings):
    params = lm_params(api, user, gpt2_folder)
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = lm_estimate(gpt2_folder, 4, 32, 4, len(TEXT))  # exactly: it fits
    assert post(api, "quantize", params).status_code == 201
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = lm_estimate(gpt2_folder, 4, 32, 4, len(TEXT)) - 1
    assert post(api, "quantize", params).status_code == 400
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = 64 * GB
    r = post(api, "quantize", params)
    assert r.status_code == 201, r.content


def test_a_longer_calibration_text_is_priced_by_its_size_and_names_calibration(api, user, gpt2_folder, settings):
    params = lm_params(api, user, gpt2_folder)
    big = TEXT * 400  # 1.08 MB: its tokenizer encoding (176 bytes a byte) is most of the estimate
    params["calibration"] = {"artifact": upload_file(user, "long.txt", big).pk}
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = GB + 10**6
    r = post(api, "quantize", params)
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == lm_estimate(gpt2_folder, 4, 32, 4, len(big))
    # the tokenizer's encoding (190 MB) and the held-out tenth's stream through a block (111 MB) drive it
    assert r.json()["estimate"]["fields"] == ["calibration", "model"]


# --- data of your own in train ---

def npy_header_only(shape, dtype="<f4") -> bytes:
    """An .npy file's header for `shape` without its data: what admission reads of a 40 GB upload."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_an_npy_too_large_is_a_400_naming_data_before_it_is_read(api, user):
    n, d = 10_000_000, 1000  # 40 GB of float32: only its header is stored, and only it is read
    art = upload_file(user, "huge.npy", npy_header_only((n, d)))
    r = post(api, "train", {"data": {"artifact": art.pk}, "arch": "mlp"})
    assert r.status_code == 400, r.content
    body = r.json()
    # train's defaults: width 256, depth 3, batch 256 (vectors: one position), and the data's 8 N D
    expected = GB + 24 * (2 * 3 + 2) * 256 ** 2 + 32 * 256 * 256 * 3 + 8 * n * d
    assert body["estimate"] == {"memory_bytes": expected, "processes": 1, "files": 2 + 8, "fields": ["data"]}
    assert body["params"] == [
        f"needs about {round(expected / GB)} GB of memory on the worker ((layers (2 depth + 2) 8 x width^2 65536 x "
        f"24 bytes) + (batch per process 256 x width 256 x depth 3 x 32 bytes) + (samples {n} x values per sample "
        f"{d} x 8 bytes (float32, clipped, and its split)) + 1 GB runtime), the limit is 64 GB; lower data"]


def test_npy_data_that_fits_is_accepted_and_priced_per_process(api, user, settings):
    x = np.zeros((64, 1, 4, 4), dtype=np.float32)
    import io

    buf = io.BytesIO()
    np.save(buf, x)
    art = upload_file(user, "small.npy", buf.getvalue())
    params = {"data": {"artifact": art.pk}, "width": 16, "depth": 1, "batch_size": 8, "world_size": 2,
              "device": "cpu"}
    # the lab UNet on 4 x 4 images: 16 positions; each of the 2 processes holds the data
    expected = 2 * GB + 2 * 24 * 4 * 16 ** 2 + 2 * 32 * 4 * 16 * 16 * 1 + 2 * 8 * 64 * 16
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected
    assert post(api, "train", params).status_code == 201
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "train", params)
    assert r.status_code == 400 and r.json()["estimate"]["memory_bytes"] == expected
    # the MLP takes each image as one flat vector: one position, not 16
    r = post(api, "train", {**params, "arch": "mlp"})
    assert r.status_code == 201, r.content


# --- a diffusers UNet in sample and train ---

def unet_estimate_values(cfg):
    h = w = cfg["sample_size"]
    return sum(c * math.ceil(h / 2 ** i) * math.ceil(w / 2 ** i) * (2 * cfg["layers_per_block"] + 1)
               for i, c in enumerate(cfg["block_out_channels"]))


def unet_mid_attention_values(cfg):
    """The folder's one attention layer (its blocks have none): the mid block's, at the last level."""
    assert not any("Attn" in t for t in cfg["down_block_types"] + cfg["up_block_types"]) and cfg["add_attention"]
    last = len(cfg["block_out_channels"]) - 1
    return cfg["block_out_channels"][-1] * math.ceil(cfg["sample_size"] / 2 ** last) ** 2


def unet_params(folder):
    with safe_open(str(folder / "unet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


@pytest.fixture(scope="module")
def unet_folder(tmp_path_factory):
    from tests.ml.sample.unet_folder import make_unet_folder

    return make_unet_folder(tmp_path_factory.mktemp("unet") / "folder")


def test_a_unet_sampled_at_1024_pixels_is_a_400_naming_batch_size_and_model(api, user, unet_folder, tmp_path):
    import shutil

    big = tmp_path / "big"
    shutil.copytree(unet_folder, big)
    cfg = json.loads((big / "unet" / "config.json").read_text())
    cfg["sample_size"] = 1024  # its config says 1024 x 1024 images: the same weights, far more activations
    (big / "unet" / "config.json").write_text(json.dumps(cfg))
    model = upload_folder(user, big)["model.zip"]
    r = post(api, "sample", {"model": {"artifact": model.pk}, "n_samples": 1000, "sampler": "ddim"})
    assert r.status_code == 400, r.content
    n = b = 1000
    d = cfg["in_channels"] * 1024 * 1024
    p = unet_params(big)
    file_bytes = (big / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size
    header = 8 + int.from_bytes(
        (big / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()[:8], "little")
    expected = (GB + 16 * n * d + 64 * b * d + 4 * p + (file_bytes - header) + 12 * b * unet_estimate_values(cfg)
                + 24 * b * unet_mid_attention_values(cfg))
    body = r.json()
    assert body["estimate"]["memory_bytes"] == expected
    assert body["estimate"]["fields"] == ["batch_size", "model"]


def test_the_unet_at_its_own_size_is_accepted(api, user, unet_folder):
    model = upload_folder(user, unet_folder)["model.zip"]
    r = post(api, "sample", {"model": {"artifact": model.pk}, "n_samples": 1000, "sampler": "ddim"})
    assert r.status_code == 201, r.content


def test_continuing_a_unet_is_priced_by_its_parameters_not_width(api, user, unet_folder, settings):
    model = upload_folder(user, unet_folder)["model.zip"]
    x = np.zeros((32, 1, 8, 8), dtype=np.float32)
    import io

    buf = io.BytesIO()
    np.save(buf, x)
    data = upload_file(user, "images.npy", buf.getvalue())
    params = {"objective": "vp_eps", "model": {"artifact": model.pk}, "data": {"artifact": data.pk},
              "batch_size": 16}
    cfg = json.loads((unet_folder / "unet" / "config.json").read_text())
    weights = unet_folder / "unet" / "diffusion_pytorch_model.safetensors"
    file_bytes = weights.stat().st_size - 8 - int.from_bytes(weights.read_bytes()[:8], "little")
    expected = (GB + 20 * unet_params(unet_folder) + file_bytes + 48 * 16 * unet_estimate_values(cfg)
                + 64 * 16 * unet_mid_attention_values(cfg) + 8 * 32 * 64)
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "train", params)
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == expected, r.json()["params"]
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected
    assert post(api, "train", params).status_code == 201


def test_continuing_a_unet_with_attention_blocks_is_priced_by_its_attention_layers(api, user, tmp_path, settings):
    import io

    import diffusers
    import torch

    torch.manual_seed(0)
    folder = tmp_path / "attn"
    diffusers.UNet2DModel(sample_size=16, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                          down_block_types=("AttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "AttnUpBlock2D"),
                          layers_per_block=1, attention_head_dim=4, norm_num_groups=4).save_pretrained(
        folder / "unet", safe_serialization=True)
    diffusers.DDPMScheduler().save_pretrained(folder / "scheduler")
    model = upload_folder(user, folder)["model.zip"]
    buf = io.BytesIO()
    np.save(buf, np.zeros((32, 1, 16, 16), dtype=np.float32))
    data = upload_file(user, "images.npy", buf.getvalue())
    params = {"objective": "vp_eps", "model": {"artifact": model.pk}, "data": {"artifact": data.pk}, "batch_size": 16}
    cfg = json.loads((folder / "unet" / "config.json").read_text())
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    file_bytes = weights.stat().st_size - 8 - int.from_bytes(weights.read_bytes()[:8], "little")
    # attention layers: one down and two up at 16 x 16 of 8 channels, the mid block's at 8 x 8 of 16
    attention = 3 * 8 * 16 * 16 + 16 * 8 * 8
    expected = (GB + 20 * unet_params(folder) + file_bytes + 48 * 16 * unet_estimate_values(cfg)
                + 64 * 16 * attention + 8 * 32 * 256)
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "train", params)
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == expected, r.json()["params"]
    assert "attention values per image 7168 x 64 bytes" in r.json()["params"][0]
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected
    assert post(api, "train", params).status_code == 201


# --- FASTA sequences of your own in the DNA objectives ---

def upload_dataset(api, path, fmt: str) -> int:
    """POST /api/artifacts/, as a researcher uploads a FASTA or its CSV: the upload reads it whole once and
    records its counts."""
    with open(path, "rb") as f:
        r = api.post("/api/artifacts/", {"file": f, "kind": "dataset", "format": fmt}, format="multipart")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def fasta_estimate(text: str, n: int, length: int, width: int, depth: int, batch: int) -> int:
    """ml/train/footprint.py's masked_diffusion formula, worked out from the file itself."""
    held = round(0.1 * n)
    return (GB + 24 * (2 * depth + 2) * width ** 2 + 32 * batch * length * width * depth + 4 * len(text.encode())
            + 128 * len(text.splitlines()) + 9 * n * length + 32 * held * length + 24 * min(2048, held) * length * width)


def test_a_fasta_is_priced_by_what_its_upload_recorded_and_a_400_names_data(api, user, tmp_path, settings):
    from django.core.files.storage import default_storage

    from jobs.models import Artifact
    from tests.ml.dna.own_data import L, N, write_enhancer_data

    fasta, _labels = write_enhancer_data(tmp_path)
    art = upload_dataset(api, fasta, "fasta")
    params = {"objective": "masked_diffusion", "data": {"artifact": art}, "width": 16, "depth": 2, "batch_size": 8}
    expected = fasta_estimate(fasta.read_text(), N, L, 16, 2, 8)
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected
    assert post(api, "train", params).status_code == 201
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "train", params)
    assert r.status_code == 400, r.content
    body = r.json()
    # a small file: the held-out NELBO and the lines lead; each is a field of the data's
    assert body["estimate"]["memory_bytes"] == expected and {"data", "data.holdout"} <= set(body["estimate"]["fields"])
    assert f"FASTA lines {4 * N} x 128 bytes" in body["params"][0]  # 24 bases on 10-base lines: 3 and a header
    # priced from the recorded counts: with the stored file gone the answer is the same, never a read of it
    default_storage.delete(Artifact.objects.get(pk=art).file.name)
    r = post(api, "train", params)
    assert r.status_code == 400 and r.json()["estimate"]["memory_bytes"] == expected, r.content


def test_an_oracle_is_priced_by_its_labels_and_a_400_names_data_labels(api, user, tmp_path, settings):
    from tests.ml.dna.own_data import L, N, write_enhancer_data

    fasta, labels = write_enhancer_data(tmp_path)
    data = {"artifact": upload_dataset(api, fasta, "fasta"), "labels": {"artifact": upload_dataset(api, labels, "csv")}}
    params = {"objective": "oracle", "data": data, "width": 16, "batch_size": 8}
    r = post(api, "train", params)
    assert r.status_code == 201, r.content
    text = fasta.read_text()
    # the oracle: its fixed depth of 2, then the file read, its codes, and every record labelled (N rows)
    expected = (GB + 24 * 6 * 16 ** 2 + 32 * 8 * L * 16 * 2 + 4 * len(text) + 128 * len(text.splitlines()) + N * L
                + 28 * N * L + 4 * labels.stat().st_size)
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "train", params)
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == expected
    assert r.json()["estimate"]["fields"][:2] == ["data.labels", "data"]


def test_drakes_on_a_model_of_your_own_sequences_is_priced_at_their_recorded_length(api, user, tmp_path, settings):
    """A masked model pretrained on a FASTA of 1,000-base records: its model.json records that length and its
    network's size, which price DRAKES's graph instead of the default task's 200 bases."""
    from safetensors.torch import save_file
    import torch

    folder = tmp_path / "dna"
    folder.mkdir()
    save_file({"inp.weight": torch.zeros(4, 5, 9)}, str(folder / "model.safetensors"))
    (folder / "model.json").write_text(json.dumps({
        "arch": "dnaconv", "arch_kwargs": {"vocab": 5, "width": 32, "depth": 6}, "prediction": "masked",
        "data": {"type": "fasta", "name": "own.fa", "length": 1000, "n_sequences": 5000}}))
    model = upload_folder(user, folder)["model.safetensors"].pk
    params = {"model": {"artifact": model}, "reward": {"artifact": model}, "eval_reward": {"artifact": model},
              "method": "drakes", "batch_size": 8, "truncate_steps": 10, "n_samples": 64}
    # ml/finetune/footprint.py: 8 n_samples L + batch_size truncate_steps L (w depth 4 saved x 4 bytes)
    expected = GB + 8 * 64 * 1000 + 8 * 10 * 1000 * 32 * 6 * 16
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = expected - 1
    r = post(api, "finetune", params)
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == expected
    assert r.json()["estimate"]["fields"] == ["batch_size", "truncate_steps", "model"]
