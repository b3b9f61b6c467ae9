"""Data files of your own (ml/data/arrays.py): what is accepted, and what is refused with a sentence that
names the file and the fix; the held-out split (ml/data/split.py)."""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from ml.data import arrays, make_dataset
from ml.data.split import halves, holdout_split


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def grey(seed, size=(6, 4)):
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(10, 3), (10, 1, 4, 6), (10, 3, 2, 2)])
def test_npy_vectors_and_images_in_range_load_as_float32(tmp_path, shape):
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    got = arrays.load(tmp_path / "x.npy")
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, x, atol=1e-7)
    assert arrays.describe(tmp_path).shape == shape   # a folder stands for its one .npy
    (tmp_path / "x.npy").rename(tmp_path / "upload")    # a stored upload may have lost its suffix
    assert arrays.load(tmp_path / "upload").shape == shape


@pytest.mark.parametrize("x, words", [
    (np.full((8, 2), 3.2), "values outside [-1, 1] (min 3.2, max 3.2)"),
    (np.zeros((8, 5, 5)), "images need a channel axis, [N, C, H, W]"),
    (np.zeros((8, 5, 5, 3)), "looks channels-last"),
    (np.zeros((8,)), "give [N, d] vectors or [N, C, H, W] images"),
    (np.zeros((3, 2)), "holds 3 sample(s)"),
    (np.where(np.arange(16).reshape(8, 2) == 11, np.inf, 0.0), "1 NaN or infinite values (the first in sample 5)"),
    (np.array([["a", "b"]] * 8), "holds <U1 values"),
])
def test_bad_arrays_are_refused_with_the_reason(tmp_path, x, words):
    np.save(tmp_path / "samples.npy", x)
    with pytest.raises(arrays.DataError) as err:
        arrays.load(tmp_path / "samples.npy")
    assert str(err.value).startswith("samples.npy") and words in str(err.value), str(err.value)


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 8, dtype=object), allow_pickle=True)
    with pytest.raises(arrays.DataError, match="not a plain numeric array"):
        arrays.load(tmp_path / "obj.npy")


def test_a_zip_of_pngs_and_a_folder_of_pngs_give_the_same_images(tmp_path):
    imgs = [grey(i) for i in range(5)]
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for i, im in enumerate(imgs):
            zf.writestr(f"faces/{i:03d}.png", png_bytes(im))
    (tmp_path / "folder").mkdir()
    for i, im in enumerate(imgs):
        (tmp_path / "folder" / f"{i:03d}.png").write_bytes(png_bytes(im))
    z, f = arrays.load(tmp_path / "imgs.zip"), arrays.load(tmp_path / "folder")
    assert z.shape == (5, 1, 6, 4) and np.array_equal(z, f)
    # 8-bit pixels p map to p / 127.5 - 1: 0 -> -1, 255 -> 1
    np.testing.assert_allclose(z[2, 0], imgs[2] / 127.5 - 1, atol=1e-6)


def test_colour_pngs_give_three_channels_and_alpha_is_dropped(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, (4, 4, 4), dtype=np.uint8)
    for i in range(4):
        (tmp_path / f"{i}.png").write_bytes(png_bytes(rgba))
    x = arrays.load(tmp_path)
    assert x.shape == (4, 3, 4, 4)
    np.testing.assert_allclose(x[0], rgba[..., :3].transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)


def test_images_of_two_sizes_or_other_files_in_the_zip_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as zf:
        zf.writestr("a.png", png_bytes(grey(0, (6, 4))))
        zf.writestr("b.png", png_bytes(grey(1, (5, 4))))
    with pytest.raises(arrays.DataError, match="b.png is 4x5 grey but a.png is 4x6 grey"):
        arrays.load(tmp_path / "mixed.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("a.png", png_bytes(grey(0)))
        zf.writestr("notes.txt", "hello")
    with pytest.raises(arrays.DataError, match=r"not PNG images \(e.g. notes.txt\)"):
        arrays.load(tmp_path / "other.zip")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(arrays.DataError, match="not a readable zip"):
        arrays.load(tmp_path / "bad.zip")


def test_holdout_split_is_a_function_of_rows_fraction_and_seed():
    a_train, a_held = holdout_split(1000, 0.1, seed=3)
    b_train, b_held = holdout_split(1000, 0.1, seed=3)
    assert np.array_equal(a_held, b_held) and np.array_equal(a_train, b_train)
    assert len(a_held) == 100 and not set(a_held) & set(a_train) and len(set(a_held) | set(a_train)) == 1000
    assert not np.array_equal(holdout_split(1000, 0.1, seed=4)[1], a_held)
    h0, h1 = halves(11, seed=0)
    assert sorted(np.concatenate([h0, h1])) == list(range(11)) and abs(len(h0) - len(h1)) == 1


def test_a_file_dataset_draws_training_rows_and_holds_the_others_out(tmp_path):
    x = np.linspace(-1, 1, 200, dtype=np.float32).reshape(100, 2)
    np.save(tmp_path / "x.npy", x)
    data = make_dataset({"type": "file", "path": str(tmp_path / "x.npy"), "holdout": 0.2, "split_seed": 0})
    train, held = holdout_split(100, 0.2, 0)
    assert data.kind == "vectors" and data.shape == (2,)
    assert np.array_equal(data.held_out.numpy(), x[held])
    import torch

    drawn = data.sample(500, torch.Generator().manual_seed(0)).numpy()
    held_rows = {tuple(r) for r in x[held]}
    assert not any(tuple(r) in held_rows for r in drawn)   # training never sees a held-out row
