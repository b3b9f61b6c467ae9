"""Continuous data of your own: an `.npy` array (`[N, d]` vectors or `[N, C, H, W]` images, values in
[-1, 1]), or PNG images (a zip of PNGs, or a folder of them) read as `[N, C, H, W]` in [-1, 1].

`describe(path)` checks a file without keeping it (the API's 400 at submit time, cached by file
identity); `load(path)` returns the float32 array. Every refusal is a `DataError` whose text names the
file and what is wrong with it, in words a researcher acts on.
"""
from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.params import DataError

MAX_BYTES = 8 << 30         # float32 bytes of the whole array: beyond this it is not a training set for this lab
MAX_ZIP_ENTRIES = 1_000_000
NPY_MAGIC = b"\x93NUMPY"   # an upload may be stored under a name without its suffix
SLACK = 1e-4                # float round-off of a rescale (x / 127.5 - 1) may leave 1.00001: accepted, clipped


@dataclass(frozen=True)
class Summary:
    name: str           # the file's name, as messages quote it
    shape: tuple        # [N, d] or [N, C, H, W]
    lo: float
    hi: float


def _pick(path: Path) -> Path:
    """A folder stands for the one data file in it (an .npy, or a zip), or for the PNGs it holds."""
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_file():
        return path
    npys, zips = sorted(path.glob("*.npy")), sorted(path.glob("*.zip"))
    pngs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
    found = [f for f in (npys, zips, pngs) if f]
    if len(found) != 1 or (not pngs and len(found[0]) != 1):
        raise DataError(f"folder {path.name}/ holds {len(npys)} .npy, {len(zips)} .zip and {len(pngs)} .png files: "
                        f"give one .npy, one zip of PNGs, or a folder of PNGs only")
    return path if pngs else found[0][0]


def file_stamp(path: Path) -> tuple:
    """What a cache of a file's contents is keyed by: the file, and its change time and size."""
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def describe(path) -> Summary:
    path = _pick(Path(path))
    return _describe(*file_stamp(path))


@functools.lru_cache(maxsize=16)
def _describe(resolved: str, _mtime: int, _size: int) -> Summary:
    x = _read(Path(resolved))
    return Summary(Path(resolved).name, tuple(x.shape), float(x.min()), float(x.max()))


def load(path) -> np.ndarray:
    """float32 [N, d] or [N, C, H, W] in [-1, 1]; raises DataError."""
    return np.clip(_read(_pick(Path(path))), -1.0, 1.0)


def _read(path: Path) -> np.ndarray:
    if path.is_dir():
        x = _images([(p.name, p.read_bytes) for p in sorted(path.iterdir()) if p.suffix.lower() == ".png"], path.name)
    elif path.suffix.lower() == ".npy" or _starts_with(path, NPY_MAGIC):
        x = _npy(path)
    elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        x = _zip(path)
    else:
        raise DataError(f"{path.name} is neither an .npy array nor a zip of PNG images")
    return _check(x, path.name)


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(magic)) == magic


def _npy(path: Path) -> np.ndarray:
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle, which never runs here
        raise DataError(f"{path.name} is not a plain numeric array ({exc}); save it with np.save(f, x.astype('float32'))")
    except Exception as exc:
        raise DataError(f"{path.name} is not a readable .npy file ({type(exc).__name__}: {exc})")
    if not isinstance(x, np.ndarray):
        raise DataError(f"{path.name} holds several arrays; save one array [N, d] or [N, C, H, W] with np.save")
    if x.dtype.kind not in "fiub":
        raise DataError(f"{path.name} holds {x.dtype} values; give real numbers (float32)")
    if x.ndim == 3:
        raise DataError(f"{path.name} is shaped {list(x.shape)}: images need a channel axis, [N, C, H, W] "
                        f"(x[:, None] for grey images)")
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        raise DataError(f"{path.name} is shaped {list(x.shape)}, which looks channels-last; give [N, C, H, W] "
                        f"(x.transpose(0, 3, 1, 2))")
    if x.ndim not in (2, 4):
        raise DataError(f"{path.name} is shaped {list(x.shape)}: give [N, d] vectors or [N, C, H, W] images")
    if x.size * 4 > MAX_BYTES:
        raise DataError(f"{path.name} is shaped {list(x.shape)}: {x.size * 4 / 2**30:.1f} GiB as float32, over the "
                        f"{MAX_BYTES >> 30} GiB a training set may take")
    return np.asarray(x, dtype=np.float32)


def _zip(path: Path) -> np.ndarray:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path.name} is not a readable zip ({exc})")
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not Path(i.filename).name.startswith(".")
                 and "__MACOSX" not in i.filename]
        if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_BYTES:
            raise DataError(f"{path.name} unpacks to {len(infos)} files of {sum(i.file_size for i in infos)} bytes, "
                            f"over the limits ({MAX_ZIP_ENTRIES} files, {MAX_BYTES >> 30} GiB)")
        others = [i.filename for i in infos if not i.filename.lower().endswith(".png")]
        if others:
            raise DataError(f"{path.name} holds files that are not PNG images (e.g. {others[0]}); zip PNGs only")
        infos.sort(key=lambda i: i.filename)
        return _images([(i.filename, functools.partial(zf.read, i)) for i in infos], path.name)


def _images(entries, source: str) -> np.ndarray:
    """PNGs, all of one size and colour: grey ones give C = 1, colour ones C = 3 (alpha is dropped)."""
    from PIL import Image

    if not entries:
        raise DataError(f"{source} holds no PNG images")
    out, first = [], None
    for name, read in entries:
        try:
            im = Image.open(io.BytesIO(read()))
            im.load()
        except Exception as exc:
            raise DataError(f"{source}: {name} is not a readable PNG ({type(exc).__name__}: {exc})")
        grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
        arr = np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32)
        arr = arr[None] if grey else arr.transpose(2, 0, 1)
        if first is None:
            first = (name, arr.shape)
            if len(entries) * arr.size * 4 > MAX_BYTES:
                raise DataError(f"{source}: {len(entries)} images of {list(arr.shape)} are over the "
                                f"{MAX_BYTES >> 30} GiB a training set may take")
        elif arr.shape != first[1]:
            raise DataError(f"{source}: {name} is {_size(arr.shape)} but {first[0]} is {_size(first[1])}; "
                            f"all images must have one size and colour mode")
        out.append(arr)
    return np.stack(out) / 127.5 - 1.0


def _size(shape) -> str:
    c, h, w = shape
    return f"{w}x{h} {'grey' if c == 1 else 'colour'}"


def _check(x: np.ndarray, name: str) -> np.ndarray:
    if len(x) < 4:
        raise DataError(f"{name} holds {len(x)} sample(s); training and a held-out split need at least 4")
    if x.shape[1:].count(0) or x[0].size == 0:
        raise DataError(f"{name} is shaped {list(x.shape)}: every sample needs at least one value")
    finite = np.isfinite(x)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise DataError(f"{name} holds {int((~finite).sum())} NaN or infinite values (the first in sample {row})")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - SLACK or hi > 1 + SLACK:
        raise DataError(f"{name} holds values outside [-1, 1] (min {lo:.4g}, max {hi:.4g}); scale the data first, "
                        f"e.g. x / 127.5 - 1 for 8-bit pixels, or (x - mean) / (k * std) with k large enough")
    return x
