"""A job's folder on disk: its layout, what it weighs, and whose params it was written for.

The folder is named by the job's `storage_key` (jobs.tasks.job_dir), never its id. It holds the
published artifacts and one working folder per attempt (`attempt-<k>/`, where the runner writes;
its `checkpoint/` is what a later attempt resumes from). Once the job has ended, each attempt folder
keeps only its checkpoint (`settle`): the artifacts it wrote were copied out when published, and
the published copy is the one that counts.

It also records the hash of the params it was made for: a folder that holds checkpoints of other
params (a row restored from a backup, a folder copied by hand) is set aside and the job starts fresh
rather than resuming from someone else's state.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from ml.durable import write_text
from ml.params import params_hash

CHECKPOINT = "checkpoint"  # the folder under out_dir where ml/ runners keep what they resume from
ATTEMPT = re.compile(r"attempt-(\d+)")
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


def attempt_folder(job_folder: Path, attempt: int) -> Path:
    return Path(job_folder) / f"attempt-{attempt}"


def leftovers(job_folder: Path, attempts: int | None = None) -> list[Path]:
    """What an ended job's attempt folders (those up to `attempts`; all when None) hold besides their
    checkpoint: copies of published artifacts, scratch files of the runner."""
    out = []
    for entry in sorted(Path(job_folder).glob("attempt-*")):
        m = ATTEMPT.fullmatch(entry.name)
        if not (m and entry.is_dir()) or (attempts is not None and int(m.group(1)) > attempts):
            continue
        out += [p for p in sorted(entry.iterdir()) if p.name != CHECKPOINT]
    return out


def settle(job_folder: Path, attempts: int | None = None) -> int:
    """The job has ended: its attempt folders up to `attempts` keep only their checkpoint. Returns the
    bytes the folder stores: the job's `bytes_stored`, which the storage quota counts.

    `attempts` spares a later attempt's folder: an attempt that ends after another took the job over
    (it was fenced out) must not empty the folder the new holder runs in."""
    for path in leftovers(job_folder, attempts):
        remove(path)
    return folder_bytes(job_folder)


def remove(path: Path) -> None:
    """Remove a file or a folder and all in it (a link itself, never what it points to)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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
    write_text(record, want + "\n")
    return note
