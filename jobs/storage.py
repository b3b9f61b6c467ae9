"""A job's folder on disk: what it weighs, and whose params it was written for.

The folder is named by the job's `storage_key` (jobs.tasks.job_dir), never its id. It also records
the hash of the params it was made for: a folder that holds checkpoints of other params (a row
restored from a backup, a folder copied by hand) is set aside and the job starts fresh rather than
resuming from someone else's state.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

PARAMS_RECORD = "params.sha256"
# a folder set aside is renamed to "<key>.stale-<unix time>": no row owns that name, so the
# garbage collector removes it once it is older than LAB_GC_ORPHAN_GRACE_SECONDS
STALE_SUFFIX = ".stale-"


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (0 when it does not exist); links are not followed."""
    total = 0
    stack = [Path(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # removed while we walked (a gc, a checkpoint rotation)
                continue
    return total


def params_hash(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim_folder(folder: Path, params: dict) -> str | None:
    """Make `folder` the one for these params before an attempt runs in it.

    A folder recording the same params hash is resumed from; one recording another hash, or holding
    files but no record (written before records existed), is renamed aside and a fresh one made.
    Returns the log line saying so, or None."""
    folder = Path(folder)
    want = params_hash(params)
    record = folder / PARAMS_RECORD
    note = None
    if folder.is_dir():
        have = record.read_text().strip() if record.is_file() else None
        if have == want:
            return None
        if have is not None or any(folder.iterdir()):
            aside = folder.with_name(f"{folder.name}{STALE_SUFFIX}{int(time.time())}")
            os.replace(folder, aside)
            why = (f"was written for other params (hash {have[:12]}, these are {want[:12]})" if have
                   else "records no params hash")
            note = f"the job's folder {why}: starting fresh instead of resuming (old files moved to {aside.name})"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (PARAMS_RECORD + ".tmp")
    tmp.write_text(want + "\n")
    os.replace(tmp, record)
    return note
