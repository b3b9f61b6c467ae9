"""Deleting a job: its row, events, artifacts and every file it wrote; the lineage of jobs that used it stays.

The row is locked first. A job that is queued or running, or whose model a queued or running job
uses, is refused (`create_job` locks the jobs whose outputs a new job reads, so a job cannot start
using a model while it is being deleted). Jobs that used its outputs keep a note of each input in
`deleted_inputs`. The rows go in one transaction and the folder once it committed: a crash in
between leaves a folder no row owns, which the garbage collector removes (jobs/retention.py).
"""
from __future__ import annotations

import json
import shutil

from django.db import connection, transaction

from .models import Job
from .tasks import job_dir


class JobInUse(Exception):
    """The job cannot be deleted now; the message says why, in words for its owner."""


def delete_job(job_id: int) -> bool:
    """Delete the job and its files; False when there is no such job (any more)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return False
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
        job.delete()
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    return True


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
