"""Files that are either wholly there or not at all, and stay there after a power cut.

Every file a job resumes from or publishes is written through here: into a temporary name
beside the target, flushed and fsynced, then renamed over it (rename is atomic on POSIX),
and the folder fsynced so the rename itself survives. A kill at any moment leaves the old
file or the new one, never half of either.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable


def fsync_folder(folder: Path) -> None:
    """A rename is durable once its folder is (POSIX)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_with(path: Path, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` fills a temporary file; it then becomes `path` in one durable rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_folder(path.parent)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return replace_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: Path, obj) -> Path:
    return write_text(path, json.dumps(obj))
