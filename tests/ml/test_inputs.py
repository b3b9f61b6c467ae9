"""ml/inputs.py: a model's or a data file's size read from its headers, as the loaders would find it, from a
few KB of the file (the bytes asked of a stream are counted, as an object store's ranged GETs would be)."""
import io
import json
import math
import zipfile

import numpy as np
import pytest
import torch

from ml.inputs import (RangeFile, UnreadableInput, describe_data, local_data, local_model, safetensors_header)

BUFFER = 64 << 10  # jobs/inputs.py's


class Counted:
    """read(offset, n) over bytes, counting what is asked: a stand-in for ranged GETs."""

    def __init__(self, data: bytes):
        self.data, self.asked = data, 0

    def __call__(self, offset, n):
        self.asked += n
        return self.data[offset:offset + n]

    def opener(self, _name):
        return io.BufferedReader(RangeFile(self, len(self.data)), BUFFER), len(self.data)


def test_a_transformers_lm_is_counted_from_its_headers_as_the_quantize_loader_counts_it(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from ml.quantize.hf_folder import Weights

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=3, n_head=2)).to(
        torch.bfloat16).save_pretrained(tmp_path, safe_serialization=True)
    model = local_model(tmp_path)
    assert model.parameters() == Weights(tmp_path).numel() > 0
    assert {t.dtype for t in model.under("").values()} == {"BF16"}
    assert model.file_bytes() == 2 * model.parameters()
    assert model.configs["config.json"]["n_layer"] == 3


def test_a_diffusers_unet_is_counted_from_its_headers_as_diffusers_counts_it(tmp_path):
    from ml.sample import diffusers_unet
    from tests.ml.sample.unet_folder import make_unet_folder

    folder = make_unet_folder(tmp_path / "unet")
    model = local_model(folder)
    assert model.parameters("unet") == diffusers_unet.load(folder)[1]["parameters"]
    assert model.configs["unet/config.json"]["sample_size"] == 8 and "scheduler/scheduler_config.json" in model.configs


def test_an_npy_header_is_read_from_one_buffer_of_a_large_file():
    buf = io.BytesIO()
    np.save(buf, np.zeros((1000, 512)))  # 4 MB of float64
    src = Counted(buf.getvalue())
    got = describe_data("x.npy", src.opener)
    assert (got.shape, got.dtype, got.size) == ((1000, 512), "float64", len(src.data))
    assert src.asked <= BUFFER < len(src.data) / 60


def test_a_zip_of_pngs_is_sized_from_its_directory_and_first_image(tmp_path):
    from PIL import Image

    from ml.data import arrays

    rng = np.random.default_rng(0)
    path = tmp_path / "images.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(24):  # noise does not compress: ~200 KB a PNG
            png = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (240, 256, 3), dtype=np.uint8)).save(png, "PNG")
            z.writestr(f"img/{i:03d}.png", png.getvalue())
    src = Counted(path.read_bytes())
    got = describe_data("images.zip", src.opener)
    assert got.shape == arrays.load(path).shape == (24, 3, 240, 256)
    assert src.asked <= 4 * BUFFER < len(src.data) / 15


def test_a_grey_png_zip_has_one_channel_and_a_folder_stands_for_its_one_npy(tmp_path):
    from PIL import Image

    with zipfile.ZipFile(tmp_path / "g.zip", "w") as z:
        for i in range(5):
            png = io.BytesIO()
            Image.fromarray(np.full((6, 10), 30 * i, dtype=np.uint8)).save(png, "PNG")
            z.writestr(f"{i}.png", png.getvalue())
    assert local_data(tmp_path / "g.zip").shape == (5, 1, 6, 10)
    np.save(tmp_path / "only.npy", np.zeros((7, 2), dtype=np.float32))
    (tmp_path / "g.zip").unlink()
    assert local_data(tmp_path).shape == (7, 2)


def test_a_file_that_is_not_safetensors_says_so():
    with pytest.raises(UnreadableInput, match=r"w.safetensors is not a safetensors file \(its header"):
        safetensors_header(io.BytesIO((5).to_bytes(8, "little") + b"{nope"), "w.safetensors")


def test_a_terminal_estimate_prices_a_local_npy_without_loading_it(tmp_path, capsys):
    from ml.cli import main
    from ml.train import run

    n, d = 3_000_000, 100  # 1.2 GB of float32 declared; the file is its header alone
    with open(tmp_path / "big.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
    (tmp_path / "p.json").write_text(json.dumps({"data": {"path": str(tmp_path / "big.npy")}, "arch": "mlp"}))
    assert main("train", run, ["--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "out"), "--estimate"]) == 0
    expected = 10**9 + 24 * 8 * 256 ** 2 + 32 * 256 * 256 * 3 + 8 * n * d
    assert capsys.readouterr().out.splitlines()[0].startswith(f"memory: {expected} bytes = ")
    assert math.prod((n, d)) * 4 > (tmp_path / "big.npy").stat().st_size * 10**6


def test_a_fasta_is_counted_a_block_at_a_time_as_its_reader_counts_it(tmp_path):
    from ml.dna import records
    from ml.inputs import BLOCK, from_summary
    from ml.upload.archive import Limits
    from ml.upload.datasets import describe

    rng = np.random.default_rng(0)
    n, length = 60_000, 37  # wrapped at 10 bases, ids of growing length: 3 MB, so records straddle blocks
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    text = "".join(f">r{i} peak\n" + "\n".join(s[k:k + 10] for k in range(0, length, 10)) + "\n"
                   for i, s in enumerate(seqs))
    (tmp_path / "own.fa").write_text(text)
    assert len(text) > 2 * BLOCK
    got = local_data(tmp_path)  # the folder's one FASTA, as records.py picks it
    assert got is None  # a folder is searched for .npy / .zip unless the reference is a FASTA's
    got = local_data(tmp_path, (".fa",))
    assert (got.format, got.shape, got.lines, got.size) == ("fasta", (n, length), len(text.splitlines()), len(text))
    assert records.describe({"path": str(tmp_path / "own.fa"), "labels": None, "activity_column": "activity",
                             "accessibility_column": "accessibility"})[:2] == (n, length)
    # a stored upload is described by what its upload recorded: the same numbers, the file unread
    summary = {"format": "fasta", **describe("fasta", tmp_path / "own.fa", "own.fa", Limits())}
    assert from_summary("own.fa", len(text), summary) == got
    (tmp_path / "labels.csv").write_text("id,activity\n" + "".join(f"r{i},{i}\n" for i in range(0, n, 3)))
    assert local_data(tmp_path / "labels.csv").shape == (n // 3,)


def test_a_terminal_estimate_prices_a_local_fasta_and_its_labels(tmp_path, capsys):
    from ml.cli import main
    from ml.train import run
    from tests.ml.dna.own_data import L, N, write_enhancer_data

    fasta, labels = write_enhancer_data(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps({"objective": "oracle", "data": {
        "path": str(fasta), "labels": {"path": str(labels)}}, "width": 16}))
    assert main("train", run, ["--params", str(tmp_path / "p.json"), "--out", str(tmp_path / "out"), "--estimate"]) == 0
    out = capsys.readouterr().out.splitlines()[0]
    assert f"(FASTA bytes {fasta.stat().st_size} x 4 bytes" in out and f"(FASTA lines {4 * N} x 128 bytes" in out
    assert f"(labelled {N} x length {L} x 28 bytes" in out and f"(CSV bytes {labels.stat().st_size} x 4 bytes" in out
