"""What a user does to jobs: create, cancel, retry, delete. One function per action, the same for the
REST API and the dashboard; each raises a `ServiceError` whose message is the answer's sentence, and
jobs/api/errors.py turns those into HTTP answers in one place (STATUS below).

Validation of a submission (`submission`) is here too, so that a retry checks its old params exactly
as a new job is checked: a model deleted since, a kind no longer installed, a job over the limits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from . import admission, audit
from .access import jobs_changeable_by, jobs_for, may_launch, may_manage
from .api.nul import MESSAGE as NUL_MESSAGE, nul_path
from .events import record, record_new
from .inputs import describe as describe_inputs
from .models import Artifact, Job
from .projects import Project, personal_project
from .registry import INTERNAL_KINDS, KINDS, get_kind
from .resolve import BadReference, lookup, resolve_artifacts
from . import scheduler
from .tasks import job_dir
from .transfer import delete_job_files


class ServiceError(Exception):
    """A request the service refuses; `str(exc)` says why, in words for the job's owner."""


class NoSuchJob(ServiceError):
    def __init__(self, job_id):
        super().__init__("no such job")
        self.job_id = job_id


class NoSuchProject(ServiceError):
    def __init__(self, project_id):
        super().__init__("no such project")
        self.project_id = project_id


class BadInput(ServiceError):
    """The submission is invalid; `errors` names each field: {"params": {"n_samples": ["..."]}}."""

    def __init__(self, errors: dict):
        super().__init__(str(errors))
        self.errors = errors


class TooManyJobs(ServiceError):
    def __init__(self, active: int):
        super().__init__(f"you have {active} queued or running jobs, the limit is {settings.LAB_MAX_ACTIVE_JOBS}; "
                         f"wait for some to finish or cancel them")
        self.active = active


class StorageFull(ServiceError):
    def __init__(self, stored: int):
        super().__init__(f"your jobs store {stored} bytes (artifacts and checkpoints), the limit is "
                         f"{settings.LAB_MAX_ARTIFACT_BYTES}: delete jobs you no longer need (the Delete button on "
                         f"a finished job's page or in the jobs list, or DELETE /api/jobs/<id>/) to free space")
        self.stored = stored


class NotAllowed(ServiceError):
    """The user sees the job or project, but their role there does not allow this (403)."""


class AlreadyFinished(ServiceError):
    """Cancel of a job that has ended."""


class JobInUse(ServiceError):
    """Delete of a job that is queued or running, or whose model a queued or running job uses."""


class StoreUnavailable(ServiceError):
    """The object store failed a request the answer needs (unreachable, S3's 503 SlowDown): the same request may
    succeed later, or on another web node."""


# the one mapping to HTTP status codes (jobs/api/errors.py answers {"detail": str(exc)} with them)
STATUS = {NoSuchJob: 404, NoSuchProject: 404, NotAllowed: 403, BadInput: 400, TooManyJobs: 429, StorageFull: 507,
          AlreadyFinished: 409, JobInUse: 409, StoreUnavailable: 503}


@dataclass
class Submission:
    kind: str
    params: dict  # validated, as stored: defaults filled in, None left out
    name: str
    input_artifacts: list[Artifact]


def submission(user, kind_name: str, raw, name: str = "") -> Submission:
    """Check what a user asks to run, as the API's 400 answers it (BadInput, or admission.NotAdmitted)."""
    kind = KINDS.get(kind_name)
    if kind_name in INTERNAL_KINDS:  # a retry of an upload's validation: its file is checked when uploaded
        raise BadInput({"kind": [f"'{kind_name}' jobs are made by the lab itself (POST /api/artifacts/ for an "
                                 f"upload): upload the file again"]})
    if kind is None:
        raise BadInput({"kind": [f"'{kind_name}' is not a kind of job: one of {', '.join(sorted(KINDS))}"]})
    try:
        kind.params  # noqa: B018
    except ImportError:
        raise BadInput({"kind": [f"'{kind.name}' jobs are not installed on this server"]})
    raw = raw or {}
    if not isinstance(raw, dict):
        raise BadInput({"params": ["must be a JSON object"]})
    nul = nul_path(raw)
    if nul is not None:
        raise BadInput({"params": {nul or "non_field_errors": [NUL_MESSAGE]}})
    if _has_key(raw, "path"):
        raise BadInput({"params": ["'path' is for terminal runs only; refer to a model by {\"artifact\": id}"]})
    try:
        params = kind.params.model_validate(raw)
    except PydanticValidationError as exc:
        raise BadInput({"params": pydantic_errors(exc)})
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadInput({"params": [str(exc)[:500]]})
    admission.check(kind, params)
    dumped = params.model_dump(mode="json", exclude_none=True)
    try:
        refs = lookup(dumped, user)
    except BadReference as exc:
        raise BadInput({"params": {exc.field: [str(exc)]}})
    # priced again by the referenced files' own sizes, from their headers, before any is fetched whole
    inputs = describe_inputs(refs) if refs else {}
    if inputs:
        admission.check(kind, params, inputs)
    try:  # choices that depend on a model (a sampler of the other kind) are checked once its folder is known
        kind.params.model_validate(resolve_artifacts(dumped, user, config_only=True))
    except PydanticValidationError as exc:
        raise BadInput({"params": pydantic_errors(exc)})
    return Submission(kind.name, dumped, name, [art for _f, _r, art in refs])


def pydantic_errors(exc: PydanticValidationError) -> dict:
    """{"n_samples": ["..."], "model.means": ["..."]}: the field named by its dotted path."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        out.setdefault(loc or "non_field_errors", []).append(err["msg"])
    return out


def _has_key(obj, key, depth=0) -> bool:
    if depth > 64:
        return True
    if isinstance(obj, dict):
        return key in obj or any(_has_key(v, key, depth + 1) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_key(v, key, depth + 1) for v in obj)
    return False


def create_job(user, kind_name, params, name, input_artifacts, send=True, project=None,
               retry_of: int | None = None, priority: str = Job.Priority.NORMAL, queue: str | None = None,
               devices: int = 1) -> Job:
    """Store a job of validated params (see `submission`) in `project` (None: the user's personal one)
    and send it to its queue once committed; TooManyJobs / StorageFull when the user is over a cap.
    `retry_of`: the job this one retries (the audit log then says retry, not create). `send=False`:
    the job is `held`, never offered to the scheduler (tests that drive a job's row themselves)."""
    kind = get_kind(kind_name)
    if project is None:
        project = personal_project(user)
    with transaction.atomic():
        active, stored = _lock_and_count(user.pk)
        if active >= settings.LAB_MAX_ACTIVE_JOBS:
            raise TooManyJobs(active)
        if stored >= settings.LAB_MAX_ARTIFACT_BYTES:
            raise StorageFull(stored)
        _lock_inputs(input_artifacts)
        # the row is new and unseen outside this transaction: its first seq needs no lock
        job = Job.objects.create(owner=user, project=project, kind=kind.name, params=params, name=name,
                                 queue=queue or kind.queue_for(kind.params.model_validate(params)), priority=priority,
                                 devices=devices, max_attempts=settings.LAB_MAX_ATTEMPTS, last_seq=1, held=not send)
        if input_artifacts:
            links = Job.input_artifacts.through
            links.objects.bulk_create([links(job_id=job.pk, artifact_id=a.pk) for a in input_artifacts])
        record_new(job, ("status", {"status": "queued"}))
        if retry_of is None:
            audit.record(user, audit.Action.CREATE, f"job {job.pk}", project=job.project_id)
        else:
            audit.record(user, audit.Action.RETRY, f"job {retry_of}", project=job.project_id, detail=f"as job {job.pk}")
        if send:
            # the pass in this transaction: one commit for the job and its admission (dispatch latency);
            # it fails alone (a savepoint), and the next pass admits the job
            scheduler.schedule_now()
    # the answer needs no lineage queries: the inputs are these, and nothing used the outputs yet
    job.input_ids, job.used_by_ids = [a.pk for a in input_artifacts], []
    return job


def submit(user, s: Submission, project=None, retry_of: int | None = None) -> Job:
    return create_job(user, s.kind, s.params, s.name, s.input_artifacts, project=project, retry_of=retry_of)


def launch_project(user, project_id):
    """The project a user launches into, by id (None: their personal one); BadInput naming `project`
    unless they are a member or admin of it."""
    if project_id is None:
        return personal_project(user)
    project = Project.objects.filter(pk=project_id).first() if isinstance(project_id, int) else None
    if project is None or not may_launch(user, project.pk):
        raise BadInput({"project": [f"no project {project_id!r} where you may launch jobs (member or admin)"]})
    return project


def check_priority(user, project, priority: str) -> None:
    """Anyone who launches may ask for `low` or `normal`; `high` (it jumps every queue, and may preempt)
    needs the project's admin."""
    if priority == Job.Priority.HIGH and not may_manage(user, project.pk):
        raise NotAllowed(f"priority 'high' needs an admin of project {project.name!r}; use 'normal' or 'low'")


def retry_job(user, job_id: int) -> Job:
    """A new job of the same kind, params, name and project, checked as a new one is (its model may
    be gone, the user may have lost their role)."""
    old = _changeable(user, job_id)
    if not may_launch(user, old.project_id):
        raise NotAllowed(f"you may not launch jobs in project {old.project_id}")
    s = submission(user, old.kind, old.params, old.name)
    priority = old.priority if old.priority != Job.Priority.HIGH or may_manage(user, old.project_id) else Job.Priority.NORMAL
    return create_job(user, s.kind, s.params, s.name, s.input_artifacts, project=old.project, retry_of=old.pk,
                      priority=priority, queue=old.queue, devices=old.devices)


def cancel_job(user, job_id: int) -> Job:
    """A queued job ends cancelled now; a running one is asked to stop at its next step."""
    with transaction.atomic():
        job = _changeable(user, job_id, lock=True)
        if job.is_finished:
            raise AlreadyFinished(f"job already {job.status}")
        if job.status == Job.Status.QUEUED:
            # never started: it ends now; a message still in the broker finds it finished and does nothing
            record(job, [("status", {"status": "cancelled"})],
                   {"status": Job.Status.CANCELLED, "cancel_requested": True, "finished_at": timezone.now()})
        else:
            record(job, [("log", {"text": f"cancel requested by {user.username}"})], {"cancel_requested": True})
        audit.record(user, audit.Action.CANCEL, f"job {job.pk}", project=job.project_id)
    return job


def delete_job(user, job_id: int) -> None:
    """Delete the job: its row, events, artifacts and every file it wrote; the lineage of jobs that used
    it stays (each keeps a note of the input in `deleted_inputs`).

    The row is locked first. A job that is queued or running, or whose model a queued or running job
    uses, is refused with JobInUse (`create_job` locks the jobs whose outputs a new job reads, so a job
    cannot start using a model while it is being deleted). The rows go in one transaction and the
    folder once it committed: a crash in between leaves a folder no row owns, which the garbage
    collector removes (jobs/retention.py)."""
    with transaction.atomic():
        job = _changeable(user, job_id, lock=True)
        if job.status in Job.ACTIVE:
            raise JobInUse(f"job {job.pk} is {job.status}: cancel it, or wait until it ends, then delete it")
        links = Job.input_artifacts.through.objects.filter(artifact__job=job)
        live = sorted(set(links.filter(job__status__in=Job.ACTIVE).values_list("job_id", flat=True)))
        if live:
            who = ", ".join(f"#{i}" for i in live)
            raise JobInUse(f"job {job.pk}'s model is in use by {'jobs' if len(live) > 1 else 'job'} {who} (queued or "
                           f"running): delete it once {'they have' if len(live) > 1 else 'that one has'} ended")
        _keep_lineage(job, links)
        folder = job_dir(job)
        audit.record(user, audit.Action.DELETE, f"job {job.pk}", project=job.project_id,
                     detail=f"{job.kind} {job.name}".strip())
        job.delete()
        transaction.on_commit(lambda: delete_job_files(folder))


def _keep_lineage(job: Job, links) -> None:
    notes: dict[int, list[dict]] = {}
    for user_id, art_id, name in links.values_list("job_id", "artifact_id", "artifact__name").order_by("artifact_id"):
        notes.setdefault(user_id, []).append({"job": job.pk, "job_name": job.name, "job_kind": job.kind,
                                              "artifact": art_id, "name": name})
    # appended in SQL, not read-modify-write: two inputs of one job may be deleted at once
    with connection.cursor() as cur:
        for user_id, entries in notes.items():
            cur.execute(f"UPDATE {Job._meta.db_table} SET deleted_inputs = deleted_inputs || %s::jsonb WHERE id = %s",
                        [json.dumps(entries), user_id])


def _changeable(user, job_id, lock=False) -> Job:
    """The job if the user may cancel, retry or delete it (jobs.access.may_change); NoSuchJob where
    they do not see it, NotAllowed where their role does not allow it."""
    qs = jobs_changeable_by(user).filter(pk=job_id)
    job = (qs.select_for_update(of=("self",)) if lock else qs).first()
    if job is None:
        if jobs_for(user).filter(pk=job_id).exists():
            raise NotAllowed("your role in this job's project does not allow this: members change their own jobs, "
                             "admins any job of the project")
        raise NoSuchJob(job_id)
    return job


def _lock_inputs(input_artifacts) -> None:
    """Hold the jobs whose outputs the new job reads until it is stored: a job being deleted holds its
    row FOR UPDATE, so either the delete sees this job using its model (409) or this finds it gone.
    KEY SHARE: it does not wait for, nor block, plain updates of those rows."""
    wanted = sorted({a.job_id for a in input_artifacts})
    if not wanted:
        return
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {Job._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [wanted])
        found = {row[0] for row in cur.fetchall()}
    gone = [a for a in input_artifacts if a.job_id not in found]
    if gone:
        raise BadInput({"params": [f"artifact {a.pk} was deleted with job {a.job_id}" for a in gone]})


def _lock_and_count(user_id: int) -> tuple[int, int]:
    """Lock the user's row, so two concurrent submits cannot both slip under the caps, then count
    their queued + running jobs and the bytes their jobs store: `bytes_stored` of each job (its whole
    folder, checkpoints included, measured when it ended: jobs.storage.settle) plus the artifacts
    queued and running jobs have written so far.

    The count is its own statement: one that also took the lock would read a snapshot from before
    the wait, missing the job the other submit just committed. Plain SQL: the ORM spends ~3 ms
    building this one, the database 0.2 ms running it."""
    users, jobs, artifacts = (m._meta.db_table for m in (get_user_model(), Job, Artifact))
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {users} WHERE id = %s FOR UPDATE", [user_id])
        cur.execute(f"SELECT (SELECT count(*) FROM {jobs} WHERE owner_id = %(user)s AND status = ANY(%(active)s)),"
                    f" (SELECT coalesce(sum(bytes_stored), 0) FROM {jobs} WHERE owner_id = %(user)s)"
                    f" + (SELECT coalesce(sum(a.size), 0) FROM {artifacts} a JOIN {jobs} j ON a.job_id = j.id"
                    f"  WHERE j.owner_id = %(user)s AND j.status = ANY(%(active)s))",
                    {"user": user_id, "active": list(Job.ACTIVE)})
        active, stored = cur.fetchone()
    return int(active), int(stored)


def over_caps(user_id: int) -> ServiceError | None:
    """The refusal `create_job` would give the user now (TooManyJobs, StorageFull), or None: for a
    caller that makes jobs on its own (a sweep's controller) and waits for room rather than fail."""
    active, stored = _lock_and_count(user_id)
    if active >= settings.LAB_MAX_ACTIVE_JOBS:
        return TooManyJobs(active)
    if stored >= settings.LAB_MAX_ARTIFACT_BYTES:
        return StorageFull(stored)
    return None


def stored_bytes(user) -> int:
    """What the storage quota counts for `user` now."""
    with transaction.atomic():
        return _lock_and_count(user.pk)[1]
