"""Archives a user might upload, good and bad, written the way zip tools write them."""
from __future__ import annotations

import stat
import zipfile
from pathlib import Path

MB = 1 << 20


def zip_folder(folder, dest) -> Path:
    """`cd folder && zip -r dest .`"""
    folder, dest = Path(folder), Path(dest)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
    return dest


def with_member(folder, dest, name: str, data: bytes = b"x", link: bool = False) -> Path:
    """The folder's zip plus one more member; `link`: a symbolic link to `data` (as `zip --symlinks` stores it)."""
    zip_folder(folder, dest)
    with zipfile.ZipFile(dest, "a", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name)
        info.create_system = 3  # unix: the mode below is read
        info.external_attr = ((stat.S_IFLNK | 0o777) if link else (stat.S_IFREG | 0o644)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data)
    return dest


def bomb(dest, unpacked: int = 10 * MB) -> Path:
    """Zeros under a weights file's name: DEFLATE packs 10 MB of them ~1000:1."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("unet/config.json", "{}")
        z.writestr("scheduler/scheduler_config.json", "{}")
        z.writestr("unet/diffusion_pytorch_model.safetensors", bytes(unpacked))
    return dest
