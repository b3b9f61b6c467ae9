"""POST /api/artifacts/: a user's own model or dataset becomes an artifact of a job of kind `upload`.

The request's file (or a complete tus upload, jobs/chunked.py) is checked here at once, on what can be checked
without loading anything: the fields, the caps of settings (LAB_UPLOAD_*), the archive's names, sizes, links and
ratio, the folder's layout, and a dataset file whole. What passes is stored where the lab keeps files (the
job's folder, or the object store) as the artifact, under the job's storage key. A dataset's job is then
finished (`succeeded`, its summary as the result). A model's job goes to the `cpu` queue: the worker unpacks
the archive in the job's folder, loads the model once and publishes its files beside the archive; until it
succeeds the artifact cannot be used (jobs/resolve.py refuses artifacts of jobs that have not succeeded), and
if it fails, its error says why.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ml.upload import archive, datasets
from ml.upload.params import FORMATS
from ml.upload.runner import check_archive

from . import objectstore
from .access import MEMBER, VIEWER, has_role
from .chunked import ChunkedUpload, ChunksMissing, uploads_dir
from .events import record
from .models import Artifact, Job
from .reporter import safe_artifact_name
from .services import BadInput, NotAllowed, StoreUnavailable, create_job, launch_project
from .storage import claim_folder
from .tasks import enqueue, job_dir
from .transfer import input_file


def limits() -> dict:
    return {"max_unpacked_bytes": settings.LAB_UPLOAD_MAX_UNPACKED_BYTES, "max_ratio": settings.LAB_UPLOAD_MAX_RATIO,
            "max_files": settings.LAB_UPLOAD_MAX_FILES}


def _field_errors(kind, fmt) -> dict:
    errors = {}
    if kind not in FORMATS:
        errors["kind"] = [f"{kind!r} is not a kind of upload: one of {', '.join(FORMATS)}"]
    elif fmt not in FORMATS[kind]:
        every = [f for fs in FORMATS.values() for f in fs]
        errors["format"] = [f"{fmt!r} is not a format of a {kind}: one of {', '.join(FORMATS[kind])}" if fmt in every
                            else f"{fmt!r} is not a format: one of {', '.join(every)}"]
    return errors


def project_for(user, project_id):
    """The project the upload goes into; viewers see it but may not add to it (403)."""
    if project_id is not None and not isinstance(project_id, int):
        raise BadInput({"project": [f"{project_id!r} is not a project id"]})
    if project_id is not None and has_role(user, project_id, VIEWER) and not has_role(user, project_id, MEMBER):
        raise NotAllowed(f"viewers of project {project_id} cannot upload: ask one of its admins for the member role")
    return launch_project(user, project_id)


def uploaded_bytes(project) -> int:
    return Artifact.objects.filter(job__project=project, job__kind="upload").aggregate(n=Sum("size"))["n"] or 0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check(kind: str, fmt: str, path: Path, name: str) -> dict | None:
    """What can be known without loading a model: a dataset's summary (None for a model)."""
    lim = archive.Limits(**limits())
    try:
        if kind == "dataset":
            return datasets.describe(fmt, path, name, lim)
        if not name.lower().endswith(".zip"):
            raise archive.BadUpload(f"{name}: a {fmt} model is uploaded as a zip of its folder")
        check_archive(fmt, path, name, lim)
    except archive.BadUpload as exc:
        raise BadInput({exc.field: [str(exc)]})
    return None


def create_upload(user, path: Path, filename: str, kind, fmt, project_id=None) -> tuple[Artifact, Job]:
    """Check, store and register one uploaded file lying at `path` (the caller removes it afterwards)."""
    errors = _field_errors(kind, fmt)
    try:
        name = safe_artifact_name(Path(str(filename).replace("\\", "/")).name)
    except ValueError:
        errors["file"] = [f"{filename!r} names no file"]
    if errors:
        raise BadInput(errors)
    project = project_for(user, project_id)
    size = path.stat().st_size
    if size == 0:
        raise BadInput({"file": [f"{name} is empty"]})
    if size > settings.LAB_UPLOAD_MAX_BYTES:
        raise BadInput({"file": [f"{name} is {size} bytes, more than the limit of {settings.LAB_UPLOAD_MAX_BYTES} "
                                 "per file (LAB_UPLOAD_MAX_BYTES)"]})
    held = uploaded_bytes(project)
    if held + size > settings.LAB_UPLOAD_PROJECT_MAX_BYTES:
        raise BadInput({"file": [f"project {project.name} holds {held} bytes of uploads; {name} ({size} bytes) would "
                                 f"pass its limit of {settings.LAB_UPLOAD_PROJECT_MAX_BYTES} (LAB_UPLOAD_PROJECT_MAX_BYTES):"
                                 " delete uploads it no longer needs"]})
    summary = check(kind, fmt, path, name)
    digest = _sha256(path)
    params = {"kind": kind, "format": fmt, "file": name, "limits": limits()}
    stored = None
    try:
        with transaction.atomic():
            job = create_job(user, "upload", params, f"upload {name}", [], send=False, project=project)
            if not objectstore.enabled():
                claim_folder(job_dir(job), job.params)  # the worker finds its own folder, not a stranger's
            with open(path, "rb") as f:
                stored = default_storage.save(f"jobs/{job.storage_key}/{name}", File(f, name=name))
            art = Artifact.objects.create(job=job, name=name, kind=kind, file=stored, size=size, sha256=digest)
            if summary is not None:  # a dataset is read whole here: nothing is left for a worker to check
                record(job, [("artifact", {"id": art.pk, "name": name, "kind": kind}),
                             ("status", {"status": Job.Status.SUCCEEDED.value})],
                       {"status": Job.Status.SUCCEEDED, "result": {"kind": kind, "format": fmt, **summary},
                        "progress": 1.0, "started_at": timezone.now(), "finished_at": timezone.now(),
                        "bytes_stored": size})
            else:
                enqueue(job)
    except BaseException:
        if stored is not None:  # the rows are gone with the transaction: so are the bytes
            default_storage.delete(stored)
            if not objectstore.enabled():
                shutil.rmtree(Path(settings.MEDIA_ROOT) / "jobs" / str(job.storage_key), ignore_errors=True)
        raise
    job.refresh_from_db()
    return art, job


def create_from_request_file(user, upload, kind, fmt, project_id=None):
    """A multipart `file`: Django spooled it to memory or a temporary file; validation needs a path."""
    if hasattr(upload, "temporary_file_path"):
        return create_upload(user, Path(upload.temporary_file_path()), upload.name, kind, fmt, project_id)
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".request-", suffix=".part") as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        return create_upload(user, Path(tmp.name), upload.name, kind, fmt, project_id)


def create_from_chunked(user, guid, kind, fmt, project_id=None):
    """A complete tus upload of this user, made an artifact; the upload and its file go either way but a 400
    on the fields (the client may send the request again with them fixed) and a 503 of the object store."""
    chunked = ChunkedUpload.objects.filter(owner=user, guid=guid).first() if _is_uuid(guid) else None
    if chunked is None:
        raise BadInput({"upload": [f"no upload {guid!r} of yours (POST /api/uploads/ makes one)"]})
    if not chunked.is_complete() or not chunked.temporary_file_exists():
        raise BadInput({"upload": [f"upload {guid} holds {chunked.upload_offset} of its {chunked.upload_length} "
                                   "bytes: send the rest first (PATCH from the offset HEAD answers)"]})
    filename = chunked.upload_metadata_dict().get("filename") or chunked.filename
    errors = _field_errors(kind, fmt)
    if errors:
        raise BadInput(errors)
    if not chunked.claim():
        raise BadInput({"upload": [f"upload {guid} is already being made an artifact, by another request"]})
    spent = True
    try:
        with chunked.complete_file() as path:
            return create_upload(user, path, filename, kind, fmt, project_id)
    except ChunksMissing as exc:
        raise BadInput({"upload": [f"upload {guid} cannot be finished: {exc}; send it again"]}) from exc
    except objectstore.STORE_ERRORS as exc:  # nothing wrong with the upload: it stays, to be finished again
        spent = False
        chunked.release()
        raise StoreUnavailable(f"the object store failed ({type(exc).__name__}) while upload {guid} was being "
                               "made an artifact: the upload is kept, send this request again") from exc
    finally:
        if spent:
            chunked.delete()


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def job_inputs(job: Job) -> dict:
    """The validation job's params: the uploaded file's path on this worker (fetched from the store there)."""
    art = Artifact.objects.get(job=job, name=job.params["file"])
    return {**job.params, "path": input_file(art)}
