"""A zip a user uploads, checked from its central directory before a byte is unpacked, then unpacked
member by member into one folder.

Refused, each with the member it is about: names that climb out of the folder (`../`, absolute paths, drive
letters), links and other non-regular files, encrypted members, more members than `Limits.max_files`, more
unpacked bytes than `Limits.max_unpacked_bytes`, and a compression ratio above `Limits.max_ratio` (a zip bomb:
a few kB that unpack to gigabytes). The sizes a zip declares may lie, so `extract` counts what it writes and
stops at the declared size.
"""
from __future__ import annotations

import os
import stat
import zipfile
from zlib import error as zlib_error
from dataclasses import dataclass
from pathlib import Path

# below this many unpacked bytes any ratio is harmless (a small JSON config compresses 10:1 or better)
RATIO_FLOOR = 1 << 20
CHUNK = 1 << 20


class BadUpload(ValueError):
    """What is wrong with an upload, in words its owner acts on; `field` is the request field it is about."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Limits:
    max_unpacked_bytes: int = 64 << 30
    max_ratio: float = 100.0
    max_files: int = 10_000


def _kind(info: zipfile.ZipInfo) -> int | None:
    """The member's file type from its unix mode, when the zip records one (Python's writestr records
    permission bits only)."""
    return stat.S_IFMT(info.external_attr >> 16) or None


def _climbs(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(parts[0]) >= 2 and parts[0][1] == ":")


def members(path, limits: Limits, label: str = "") -> list[zipfile.ZipInfo]:
    """The regular-file members of the zip, every check above passed; BadUpload naming what is not."""
    label = label or Path(path).name
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadUpload(f"{label} is not a zip archive ({exc}): zip the folder (e.g. `cd my-model && zip -r ../model.zip .`)")
    if len(infos) > limits.max_files:
        raise BadUpload(f"{label} holds {len(infos)} members, more than the limit of {limits.max_files}")
    files, total, packed = [], 0, 0
    for info in infos:
        name = info.filename
        if _climbs(name):
            raise BadUpload(f"{label}: member {name!r} points outside the archive's folder (path traversal); "
                            "archives must hold relative paths without '..'")
        kind = _kind(info)
        if kind == stat.S_IFLNK:
            raise BadUpload(f"{label}: member {name!r} is a symbolic link; links are refused (they can point "
                            "anywhere on the server): zip the files themselves (zip without --symlinks)")
        if info.is_dir():
            continue
        if kind not in (None, stat.S_IFREG):
            raise BadUpload(f"{label}: member {name!r} is not a regular file")
        if info.flag_bits & 0x1:
            raise BadUpload(f"{label}: member {name!r} is encrypted; upload an archive without a password")
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise BadUpload(f"{label}: member {name!r} unpacks {info.file_size / max(info.compress_size, 1):.0f}:1 "
                            f"({info.file_size} bytes from {info.compress_size}), above the limit of "
                            f"{limits.max_ratio:.0f}:1 (a zip bomb?)")
        total += info.file_size
        packed += info.compress_size
        files.append(info)
    if total > limits.max_unpacked_bytes:
        raise BadUpload(f"{label} unpacks to {total} bytes, more than the limit of {limits.max_unpacked_bytes}")
    if total > RATIO_FLOOR and total > limits.max_ratio * max(packed, 1):
        raise BadUpload(f"{label} unpacks {total / max(packed, 1):.0f}:1 ({total} bytes from {packed}), above the "
                        f"limit of {limits.max_ratio:.0f}:1 (a zip bomb?)")
    return files


def common_root(names: list[str]) -> str:
    """'my-model/' when every member lies in that one folder (a folder zipped with its own name), else ''."""
    firsts = {n.split("/", 1)[0] for n in names}
    if len(firsts) == 1 and all("/" in n for n in names):
        return firsts.pop() + "/"
    return ""


def extract(path, dest, limits: Limits, label: str = "") -> list[str]:
    """Unpack the checked members into `dest` (one common top folder dropped); returns their relative names.
    Nothing is written outside `dest`: names are checked, files are created new (never through a link), and
    each member stops at its declared size."""
    label = label or Path(path).name
    infos = members(path, limits, label)
    root = common_root([i.filename for i in infos])
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    base = dest.resolve()
    names = []
    with zipfile.ZipFile(path) as z:
        for info in infos:
            names.append(_extract_one(z, info, root, dest, base, label))
    return names


def _extract_one(z: zipfile.ZipFile, info: zipfile.ZipInfo, root: str, dest: Path, base: Path, label: str) -> str:
    rel = info.filename[len(root):]
    target = (dest / rel).resolve()
    if not target.is_relative_to(base) or target == base:
        raise BadUpload(f"{label}: member {info.filename!r} points outside the archive's folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = 0
    try:
        with z.open(info) as src, os.fdopen(os.open(target, flags, 0o644), "wb") as out:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                written += len(chunk)
                if written > info.file_size:
                    raise BadUpload(f"{label}: member {info.filename!r} holds more than the {info.file_size} "
                                    "bytes it declares")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib_error) as exc:
        raise BadUpload(f"{label}: member {info.filename!r} is damaged ({exc})")
    except FileExistsError:
        raise BadUpload(f"{label}: member {info.filename!r} appears twice")
    return rel
