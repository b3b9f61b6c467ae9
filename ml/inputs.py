"""What is known of a job's own model and data before either is loaded: their files' headers.

Admission (jobs/admission.py, the kinds' `footprint.py`) prices a diffusers UNet, a transformers LM or an
.npy array by its size, and reading that size must not cost what loading would: a safetensors file says
every tensor's dtype and shape in a JSON header at its start (8 bytes of length, then the JSON: the format's
own layout), an .npy file its shape and dtype in the header `numpy.lib.format` reads, a zip its entries in
the central directory at its end, a PNG its size in its first chunk (IHDR), a config its numbers in a JSON
file of a few KB. A source gives the files as seekable binary streams: a local file here, a file of the
object store read by ranged GETs in the job system (jobs/inputs.py), so a 50 GB upload is priced from a
few KB of it.

A FASTA file has no header that counts its records: a stored upload is priced by the counts its upload
recorded (`from_summary`: jobs/uploads.py reads a dataset whole once, when it arrives), a local file by one
pass over blocks of it that keeps nothing (`fasta_counts`), as a CSV of labels by its rows.
"""
from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

import numpy as np

from ml.footprint import ceil_div

# safetensors' dtype names and their sizes (the format's spec)
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
MAX_HEADER = 100 << 20  # safetensors' own limit on its header
MAX_JSON = 1 << 20      # a config is a few KB; a bigger "config" is not read whole
# the files a model folder is priced by: where the loaders read weights (a lab model and a transformers LM at the
# top, a diffusers UNet in unet/) and the configs they read; a job folder's checkpoint/ is never a weight file
WEIGHT_FOLDERS = ("", "unet")
CONFIGS = ("model.json", "config.json", "unet/config.json", "scheduler/scheduler_config.json")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")  # ml/dna/records.py's
BLOCK = 1 << 20      # a local FASTA or CSV is counted a block at a time
FIRST_RECORD = 1 << 16  # a record of at most 2048 bases (ml/dna/records.py) and its header fit in it
WRAP = 60            # FASTA's customary bases per line: what an upload recorded without its line count is priced at


class UnreadableInput(ValueError):
    """A header that is not what its format writes (the text says which file and why)."""


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES.get(self.dtype, 4)


@dataclass(frozen=True)
class ModelFiles:
    """A model folder as its headers describe it: the tensors of its weight files by folder ("" the top,
    "unet") and name, its configs by path."""
    tensors: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    configs: dict[str, dict] = field(default_factory=dict)

    def under(self, folder: str) -> dict[str, Tensor]:
        return self.tensors.get(folder, {})

    def parameters(self, folder: str = "") -> int:
        return sum(t.numel for t in self.under(folder).values())

    def file_bytes(self, folder: str = "") -> int:
        return sum(t.nbytes for t in self.under(folder).values())


@dataclass(frozen=True)
class DataFile:
    """A data file: its name and size, and the shape of the array it holds where its header says (an .npy;
    a zip of PNGs: [entries, C, H, W] from its first image; a FASTA: [records, bases], `format` "fasta"
    and its `lines`; a CSV: [rows], `format` "csv"); None for other files."""
    name: str
    size: int
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    format: str | None = None
    lines: int | None = None


Opener = Callable[[str], tuple[BinaryIO, int]]  # relative name -> (seekable binary stream, size)


def safetensors_header(f: BinaryIO, name: str) -> dict[str, Tensor]:
    head = f.read(8)
    if len(head) < 8:
        raise UnreadableInput(f"{name} is not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER:
        raise UnreadableInput(f"{name} is not a safetensors file (a header of {n} bytes)")
    try:
        meta = json.loads(f.read(n))
        return {k: Tensor(v["dtype"], tuple(int(s) for s in v["shape"])) for k, v in meta.items()
                if k != "__metadata__"}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableInput(f"{name} is not a safetensors file (its header: {exc})") from None


def npy_header(f: BinaryIO, name: str) -> tuple[tuple[int, ...], str]:
    """(shape, dtype) from an .npy header; nothing past it is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _fortran, dtype = fmt.read_array_header_2_0(f)
        else:  # 3.0: 2.0's layout with a utf-8 header
            shape, _fortran, dtype = fmt._read_array_header(f, version)
    except ValueError as exc:
        raise UnreadableInput(f"{name} is not a readable .npy file ({exc})") from None
    return tuple(int(s) for s in shape), str(dtype)


def png_zip_shape(f: BinaryIO, name: str) -> tuple[int, ...] | None:
    """[PNG entries, C, H, W] of a zip of PNGs, from its central directory and its first image's IHDR (C = 1
    for a grey image, 3 for colour: as ml/data/arrays.py reads them); None if it holds no PNG."""
    try:
        with zipfile.ZipFile(f) as z:
            pngs = sorted(i.filename for i in z.infolist() if not i.is_dir() and i.filename.lower().endswith(".png")
                          and not Path(i.filename).name.startswith(".") and "__MACOSX" not in i.filename)
            if not pngs:
                return None
            with z.open(pngs[0]) as png:
                ihdr = png.read(26)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise UnreadableInput(f"{name} is not a readable zip ({exc})") from None
    if len(ihdr) < 26 or ihdr[12:16] != b"IHDR":
        return None  # not a PNG after all: loading says so
    width, height = struct.unpack(">II", ihdr[16:24])
    colour = ihdr[25]
    return len(pngs), 1 if colour in (0, 4) else 3, int(height), int(width)


def fasta_counts(f: BinaryIO) -> tuple[int, int, int]:
    """(records, bases of the first record, lines) of a FASTA stream, read a block at a time: the records are
    the lines that start with '>', the lines those `str.splitlines` would make (what ml/dna/records.py holds)."""
    head = f.read(FIRST_RECORD)
    first = head.split(b"\n>", 1)[0].split(b"\n")[1:] if head.startswith(b">") else []
    bases = sum(len(line.strip()) for line in first if not line.startswith(b";"))
    records, lines, last, block = int(head.startswith(b">")), 0, b"", head
    while block:
        records += (last + block).count(b"\n>") - last.count(b"\n>")
        lines += block.count(b"\n")
        last = block[-1:]
        block = f.read(BLOCK)
    return records, bases, lines + (last not in (b"\n", b""))


def line_count(f: BinaryIO) -> int:
    lines, last = 0, b""
    for block in iter(lambda: f.read(BLOCK), b""):
        lines, last = lines + block.count(b"\n"), block[-1:]
    return lines + (last not in (b"\n", b""))


def from_summary(name: str, size: int, summary: dict) -> DataFile | None:
    """A FASTA or CSV upload as its upload recorded it (ml/upload/datasets.py's summary); None for another
    format, whose header says more than a summary."""
    fmt = summary.get("format")
    if fmt == "fasta" and summary.get("sequences"):
        n, length = int(summary["sequences"]), int(summary["length_max"])
        lines = summary.get("lines") or n * (1 + ceil_div(length, WRAP))
        return DataFile(name, size, (n, length), format="fasta", lines=int(lines))
    if fmt == "csv" and summary.get("rows"):
        return DataFile(name, size, (int(summary["rows"]),), format="csv")
    return None


def describe_model(names: Iterable[str], opener: Opener) -> ModelFiles:
    """The headers of a model folder's weight files and its configs, `names` its files' relative paths."""
    tensors, configs = {}, {}
    for rel in sorted(names):
        folder, _, base = rel.rpartition("/")
        if base.endswith(".safetensors") and folder in WEIGHT_FOLDERS:
            f, _size = opener(rel)
            with f:
                tensors.setdefault(folder, {}).update(safetensors_header(f, rel))
        elif rel in CONFIGS:
            f, size = opener(rel)
            with f:
                if size <= MAX_JSON:
                    try:
                        configs[rel] = json.loads(f.read())
                    except ValueError:
                        pass  # the loader's own check says what is wrong with it
    return ModelFiles(tensors, configs)


def describe_data(name: str, opener: Opener) -> DataFile:
    f, size = opener(name)
    with f:
        magic = f.read(6)
        f.seek(0)
        if magic == b"\x93NUMPY":
            shape, dtype = npy_header(f, name)
            return DataFile(name, size, shape, dtype)
        if magic[:4] == b"PK\x03\x04":
            return DataFile(name, size, png_zip_shape(f, name))
        if name.lower().endswith(FASTA_SUFFIXES) and magic[:1] == b">":
            n, length, lines = fasta_counts(f)
            return DataFile(name, size, (n, length), format="fasta", lines=lines)
        if name.lower().endswith(".csv"):
            return DataFile(name, size, (max(line_count(f) - 1, 0),), format="csv")  # less its header row
    return DataFile(name, size)


# --- local files (terminal runs, and the job system without an object store) ---

def _local(root: Path) -> Opener:
    def opener(rel: str):
        p = root / rel if rel else root
        return open(p, "rb"), p.stat().st_size
    return opener


def local_model(path) -> ModelFiles:
    root = Path(path)
    if root.is_file():  # a model named by one of its files (model.json, config.json)
        root = root.parent
    names = [p.relative_to(root).as_posix() for d in WEIGHT_FOLDERS for p in (root / d).glob("*.safetensors")]
    names += [c for c in CONFIGS if (root / c).is_file()]
    return describe_model(names, _local(root))


def local_data(path, suffixes=(".npy", ".zip")) -> DataFile | None:
    """A data file, or the one file of `suffixes` in a folder (as ml/data/arrays.py and ml/dna/records.py
    pick theirs); None if neither."""
    p = Path(path)
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes)
        if len(found) != 1:
            return None
        p = found[0]
    if not p.is_file():
        return None
    return describe_data(p.name, lambda _name: (open(p, "rb"), p.stat().st_size))


class RangeFile(io.RawIOBase):
    """A seekable read-only stream over `read(offset, length) -> bytes` (an object store's ranged GET): what
    numpy's header reader and zipfile need, fetching only the bytes they ask for."""

    def __init__(self, read: Callable[[int, int], bytes], size: int):
        super().__init__()
        self._read, self.size, self.pos = read, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buf) -> int:
        n = min(len(buf), self.size - self.pos)
        if n <= 0:
            return 0
        data = self._read(self.pos, n)
        buf[:len(data)] = data
        self.pos += len(data)
        return len(data)


def local_inputs(p, paths: dict[str, str]) -> dict:
    """{field: ModelFiles | DataFile} for the top-level references of validated params `p` whose local files
    `paths` names (a terminal run), as the job system describes artifacts: a data or text reference is a file,
    any other reference a model folder."""
    from ml.params import ArtifactRef, DatasetRef

    out = {}
    for name, path in paths.items():
        ref = getattr(p, name, None)
        if not Path(path).exists():
            continue
        if isinstance(ref, DatasetRef) or name == "calibration":
            fasta = getattr(ref, "type", None) == "fasta"
            described = local_data(path, FASTA_SUFFIXES if fasta else (".npy", ".zip"))
            if described is not None:
                out[name] = described
            labels = getattr(ref, "labels", None)
            if fasta and labels is not None and labels.path and Path(labels.path).exists():
                described = local_data(labels.path, (".csv",))
                if described is not None:
                    out[f"{name}.labels"] = described
        elif isinstance(ref, ArtifactRef):
            out[name] = local_model(path)
    return out


def without_paths(params: dict) -> tuple[dict, dict[str, str]]:
    """(params whose top-level references name a placeholder artifact instead of their path, {field: path}):
    what a terminal run's estimate validates, so that validating never reads the files it is to price."""
    paths = {k: v["path"] for k, v in params.items() if isinstance(v, dict) and isinstance(v.get("path"), str)}
    return {**params, **{k: {**{x: y for x, y in params[k].items() if x != "path"}, "artifact": 1}
                         for k in paths}}, paths
