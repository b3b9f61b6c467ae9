"""ml/upload/archive.py and layouts.py: each bad archive refused from its names and sizes, with the member named;
a good one unpacked without writing outside its folder."""
import zipfile

import pytest

from ml.upload.archive import BadUpload, Limits, extract, members
from ml.upload.layouts import check_names
from ml.upload.runner import check_archive
from tests.ml.upload.zips import MB, bomb, with_member, zip_folder


@pytest.fixture
def diffusers_folder(tmp_path):
    root = tmp_path / "model"
    (root / "unet").mkdir(parents=True)
    (root / "scheduler").mkdir()
    (root / "unet" / "config.json").write_text("{}")
    (root / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    (root / "scheduler" / "scheduler_config.json").write_text("{}")
    return root


def test_a_member_climbing_out_is_refused_by_name(diffusers_folder, tmp_path):
    z = with_member(diffusers_folder, tmp_path / "m.zip", "../../evil.txt")
    with pytest.raises(BadUpload, match=r"member '../../evil.txt' points outside the archive's folder \(path traversal\)"):
        members(z, Limits())


@pytest.mark.parametrize("name", ["/etc/cron.d/x", "C:/windows/x", "unet/../../x"])
def test_absolute_and_drive_names_are_traversal_too(diffusers_folder, tmp_path, name):
    with pytest.raises(BadUpload, match="path traversal"):
        members(with_member(diffusers_folder, tmp_path / "m.zip", name), Limits())


def test_a_symlink_is_refused(diffusers_folder, tmp_path):
    z = with_member(diffusers_folder, tmp_path / "m.zip", "unet/weights.safetensors", b"/etc/passwd", link=True)
    with pytest.raises(BadUpload, match="member 'unet/weights.safetensors' is a symbolic link"):
        members(z, Limits())


def test_a_1000_to_1_bomb_is_refused_before_unpacking(tmp_path):
    z = bomb(tmp_path / "b.zip")
    info = zipfile.ZipFile(z).getinfo("unet/diffusion_pytorch_model.safetensors")
    assert info.file_size / info.compress_size > 900  # what makes it a bomb: ~1000:1
    with pytest.raises(BadUpload, match=r"unpacks \d+:1 .* above the limit of 100:1 \(a zip bomb\?\)"):
        members(z, Limits())
    assert list(tmp_path.iterdir()) == [z]


def test_the_total_unpacked_size_has_a_cap(diffusers_folder, tmp_path):
    z = zip_folder(diffusers_folder, tmp_path / "m.zip")
    with pytest.raises(BadUpload, match="unpacks to 68 bytes, more than the limit of 50"):  # 2 + 64 + 2
        members(z, Limits(max_unpacked_bytes=50))


def test_a_small_file_may_compress_well(tmp_path):
    z = tmp_path / "small.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("config.json", " " * (MB - 1))  # 1 MB of spaces, ~1000:1, below the 1 MiB floor
    assert [i.filename for i in members(z, Limits())] == ["config.json"]


def test_pickles_are_refused_with_the_way_to_safetensors(diffusers_folder, tmp_path):
    z = with_member(diffusers_folder, tmp_path / "m.zip", "unet/diffusion_pytorch_model.bin")
    with pytest.raises(BadUpload, match=r"unet/diffusion_pytorch_model.bin: pickled files are refused .* "
                                        r"safe_serialization=True"):
        check_archive("diffusers", z, "m.zip", Limits())


def test_unknown_files_and_missing_parts_are_named():
    with pytest.raises(BadUpload, match="notes.txt: not part of a diffusers folder"):
        check_names("diffusers", ["unet/config.json", "unet/w.safetensors", "scheduler/scheduler_config.json",
                                  "notes.txt"], "m.zip")
    with pytest.raises(BadUpload, match=r"text_encoder/, vae/: `sample` runs the UNet alone"):
        check_names("diffusers", ["model_index.json", "unet/config.json", "unet/w.safetensors",
                                  "scheduler/scheduler_config.json", "vae/config.json", "text_encoder/config.json"],
                    "sd.zip")
    with pytest.raises(BadUpload, match="no config.json in this transformers folder"):
        check_names("transformers", ["model.safetensors", "tokenizer.json"], "lm.zip")
    with pytest.raises(BadUpload, match=r"no tokenizer \(tokenizer.json, or vocab files\) in this transformers folder"):
        check_names("transformers", ["config.json", "model.safetensors"], "lm.zip")


def test_a_folder_zipped_with_its_own_name_unpacks_without_it(diffusers_folder, tmp_path):
    wrapped = tmp_path / "wrapped"
    wrapped.mkdir()
    diffusers_folder.rename(wrapped / "model")
    z = zip_folder(wrapped, tmp_path / "m.zip")  # members "model/unet/config.json", ...
    dest = tmp_path / "out"
    names = extract(z, dest, Limits())
    assert sorted(names) == ["scheduler/scheduler_config.json", "unet/config.json",
                             "unet/diffusion_pytorch_model.safetensors"]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == sorted(names)
