"""What moves between a worker's local folders and the object store (LAB_STORAGE_URL set).

`ml/` only ever reads and writes plain files in a local folder; around it the job system
- uploads each artifact as it is published, at `jobs/<storage key>/attempt-<k>/<name>`: a key of the
  attempt's own, so an attempt fenced out can never overwrite the object the row of the attempt
  holding the job names (that row is written under the job's lock, jobs/reporter.py);
- uploads each complete checkpoint (ml/checkpoint.py: its manifest is written last) from a thread
  that watches the manifest, parts first and the manifest last, at
  `jobs/<key>/attempt-<k>/checkpoint/`: the store, like the folder, has a complete step or none;
- before an attempt runs, fetches the newest checkpoint an earlier attempt (on any node) uploaded,
  and the files of every model the params name, into LAB_CACHE_DIR keyed by sha256;
- once the attempt ends, removes its local folder (a worker's disk is scratch).
With no store every function here keeps today's behaviour: the files stay in MEDIA_ROOT.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

from django.conf import settings

from ml.checkpoint import MANIFEST
from ml.durable import replace_with
from ml.params import params_hash

from . import objectstore
from .storage import CHECKPOINT, PARAMS_RECORD, attempt_folder, remove, settle

log = logging.getLogger(__name__)
WATCH_SECONDS = 0.2  # how often the checkpoint watcher looks at the manifest (one stat)
# the artifact kinds that make a model's folder (ml/modelio.py); "weights": the safetensors files of an
# uploaded folder (ml/upload/runner.py), part of the folder but not a model to pick on its own
MODEL_FILES = ("model", "config", "weights")


def job_prefix(storage_key) -> str:
    return f"jobs/{storage_key}/"


def attempt_prefix(storage_key, attempt: int) -> str:
    return f"{job_prefix(storage_key)}attempt-{attempt}/"


# --- artifacts ---

def upload_artifact(job_folder: Path, attempt: int, name: str, path: Path) -> tuple[str, int, str]:
    """(key, size, sha256) of the published file, uploaded under the attempt's own prefix."""
    rel = attempt_prefix(Path(job_folder).name, attempt) + name
    size, digest = objectstore.store().upload(path, rel)
    return rel, size, digest


def input_folder(art, config_only: bool = False) -> str:
    """The folder holding the model `art` belongs to (model.safetensors + model.json). From the store
    it is a folder of the cache, made once per model; `config_only` (the web process validating a
    submission) fetches just the small files."""
    if not objectstore.enabled():
        return str((Path(settings.MEDIA_ROOT) / art.file.name).parent)
    # a succeeded job's artifacts never change, and a cache folder appears whole (a rename): a process
    # asked again for a model needs no query, one stat (the cache may have been emptied meanwhile)
    known = _folders.get((art.pk, art.sha256, config_only))
    if known is not None and known.is_dir():
        return str(known)
    from .models import Artifact

    kinds = ("config",) if config_only else MODEL_FILES
    files = list(Artifact.objects.filter(job_id=art.job_id, kind__in=kinds, partial=False)
                 .values_list("name", "file", "sha256").order_by("name"))
    # named by what it holds: two models sharing their weights but not their config are two folders
    key = hashlib.sha256("".join(f"{name}\0{digest}\n" for name, _f, digest in files).encode()).hexdigest()
    folder = Path(settings.LAB_CACHE_DIR) / ("configs" if config_only else "models") / key
    if all((folder / name).is_file() for name, _f, _d in files):
        _folders[(art.pk, art.sha256, config_only)] = folder
        return str(folder)
    tmp = Path(tempfile.mkdtemp(dir=_mkdir(folder.parent), prefix=f".{key[:12]}."))
    try:
        for name, rel, digest in files:
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(cached_blob(rel, digest), target)  # the blob is shared by every folder naming it
        shutil.rmtree(folder, ignore_errors=True)  # one missing a file (a model republished)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process of this node made it meanwhile
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _folders[(art.pk, art.sha256, config_only)] = folder
    return str(folder)


_folders: dict[tuple, Path] = {}  # (artifact id, its sha256, config_only) -> its folder in the cache


def input_file(art) -> str:
    """A dataset artifact's file, under its own name (readers go by the suffix): from the store, a link to
    the cached blob in a folder named by its sha256."""
    if not objectstore.enabled():
        return str(Path(settings.MEDIA_ROOT) / art.file.name)
    target = Path(settings.LAB_CACHE_DIR) / "datasets" / art.sha256 / art.name
    if not target.is_file():
        _mkdir(target.parent)
        tmp = target.parent / f".{target.name}.{os.getpid()}"
        os.link(cached_blob(art.file.name, art.sha256), tmp)
        os.replace(tmp, target)
    return str(target)


def cached_blob(rel: str, digest: str) -> Path:
    """The object's bytes in the cache, fetched once per sha256 whichever job or node asks."""
    blob = Path(settings.LAB_CACHE_DIR) / "sha256" / digest[:2] / digest
    if not blob.is_file():
        objectstore.store().download(rel, blob, digest)
    return blob


# --- checkpoints ---

class CheckpointSync:
    """Uploads each complete checkpoint the runner writes in `out_dir/checkpoint/` to the store."""

    def __init__(self, storage_key, attempt: int, out_dir: Path, period: float | None = WATCH_SECONDS):
        """`period`: how often to look; None: only when `sync` is called."""
        self.folder = Path(out_dir) / CHECKPOINT
        self.prefix = attempt_prefix(storage_key, attempt) + CHECKPOINT + "/"
        self.period = period
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sent: str | None = None  # the manifest last uploaded
        self._uploaded: set[str] = set()  # parts in the store
        self._thread = threading.Thread(target=self._loop, name=f"checkpoint-sync-{storage_key}", daemon=True)
        if period is not None:
            self._thread.start()

    def close(self) -> None:
        """Stop watching, then upload what the runner left last (its final checkpoint)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self.sync()
        except Exception:  # the job's outcome stands; a retry resumes from the last checkpoint that went up
            log.warning("the final checkpoint could not be uploaded", exc_info=True)

    def sync(self) -> bool:
        """Upload the newest complete checkpoint if it is not in the store yet; True if one went up."""
        with self._lock:
            return self._sync_once()

    def _sync_once(self) -> bool:
        for _ in range(5):  # the runner may replace the step we are uploading: take the next one
            try:
                text = (self.folder / MANIFEST).read_text()
            except FileNotFoundError:
                return False
            if text == self._sent:
                return False
            try:
                self._upload(json.loads(text), text)
                return True
            except FileNotFoundError:
                continue
        return False

    def _upload(self, manifest: dict, text: str) -> None:
        store = objectstore.store()
        parts = manifest["parts"]
        for part in parts:
            if part in self._uploaded and part != parts[-1]:
                continue  # a carried part (sample's chunks, quantize's layers) went up with an earlier step;
                # the newest is sent again (a step saved twice, as a stop checkpoint, is rewritten whole)
            for f in sorted((self.folder / part).iterdir()):
                store.upload(f, f"{self.prefix}{part}/{f.name}")
            self._uploaded.add(part)
        store.put_bytes(self.prefix + MANIFEST, text.encode())
        self._sent = text
        gone = self._uploaded - set(parts)
        if gone:
            store.delete([e.rel for part in gone for e in store.list(f"{self.prefix}{part}/")])
            self._uploaded -= gone

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.sync()
            except Exception:  # the store unreachable a while: the next look tries again
                log.warning("checkpoint upload failed; retrying", exc_info=True)


class _NoSync:
    def close(self) -> None:
        pass


def start_attempt(job, job_folder: Path) -> tuple[object, list[str]]:
    """Before an attempt runs: fetch the newest checkpoint an earlier attempt left in the store into
    this attempt's folder, and start uploading the ones it writes. Returns (sync, log lines)."""
    if not objectstore.enabled():
        return _NoSync(), []
    out_dir = attempt_folder(job_folder, job.attempts)
    notes = [claim_prefix(job.storage_key, job.params, job.attempts)]
    if not (out_dir / CHECKPOINT / MANIFEST).is_file():
        notes.append(fetch_checkpoint(job.storage_key, job.attempts, out_dir / CHECKPOINT))
    return CheckpointSync(job.storage_key, job.attempts, out_dir), [n for n in notes if n]


def claim_prefix(storage_key, params: dict, attempt: int) -> str | None:
    """`storage.claim_folder` for the store: its `params.sha256` names the params its checkpoints were
    written for. Checkpoints of other params (a row restored from another backup) are removed rather
    than resumed from; returns the log line saying so, or None."""
    store = objectstore.store()
    record = job_prefix(storage_key) + PARAMS_RECORD
    want = params_hash(params)
    have = store.read(record)
    have = have.decode().strip() if have is not None else None
    if have == want:
        return None
    note = None
    if have is not None:
        stale = [e.rel for e in store.list(job_prefix(storage_key)) if f"/{CHECKPOINT}/" in e.rel
                 and _attempt_of(e.rel) < attempt]
        store.delete(stale)
        note = (f"the job's checkpoints in the object store were written for other params (hash {have[:12]}, "
                f"these are {want[:12]}): not resumed from, removed")
    store.put_bytes(record, (want + "\n").encode())
    return note


def _attempt_of(rel: str) -> int:
    m = re.search(r"/attempt-(\d+)/", rel)
    return int(m.group(1)) if m else 0


def fetch_checkpoint(storage_key, attempt: int, target: Path) -> str | None:
    """Copy the newest earlier attempt's checkpoint from the store into `target`, manifest last."""
    store = objectstore.store()
    for k in range(attempt - 1, 0, -1):
        prefix = attempt_prefix(storage_key, k) + CHECKPOINT + "/"
        text = store.read(prefix + MANIFEST)
        if text is None:
            continue
        manifest = json.loads(text)

        def fill(tmp, manifest=manifest, prefix=prefix, text=text):
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for part in manifest["parts"]:
                for e in store.list(f"{prefix}{part}/"):
                    store.download(e.rel, tmp / part / e.rel.rsplit("/", 1)[1])
            (tmp / MANIFEST).write_bytes(text)

        replace_with(target, fill)
        return f"fetched the checkpoint of step {manifest['step']} (attempt {k}) from the object store"
    return None


# --- the end of an attempt, and of a job ---

def settle_attempt(job_folder: Path, attempt: int) -> int:
    """The attempt ended: the job's `bytes_stored`. On one box, `storage.settle`; with a store, this
    node's copy goes (the store has it all) and the job's objects are counted."""
    if not objectstore.enabled():
        return settle(job_folder, attempt)
    remove(attempt_folder(job_folder, attempt))
    others = [p for p in Path(job_folder).glob("attempt-*")] if Path(job_folder).is_dir() else []
    if not others:
        remove(job_folder)
    try:
        return sum(e.size for e in objectstore.store().list(job_prefix(Path(job_folder).name)))
    except Exception:  # the final status matters more than the count: the collector measures it again
        log.warning("could not measure the job's objects; the garbage collector will", exc_info=True)
        return 0


def delete_job_files(job_folder: Path) -> None:
    """Every file of a deleted job: its local folder and, with a store, its objects."""
    remove(job_folder)
    if objectstore.enabled():
        try:
            objectstore.store().delete_prefix(job_prefix(Path(job_folder).name))
        except Exception:  # the rows are gone: a prefix no job owns is the collector's once its grace is over
            log.warning("could not delete the objects of deleted job folder %s; the collector will",
                        Path(job_folder).name, exc_info=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path

