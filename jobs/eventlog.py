"""Appending events to a job's history with gap-free `seq`.

`seq` comes from the job row's `last_seq`, bumped by the same statement that inserts the
events: the row lock it takes orders concurrent writers (the worker's reporter, the web
process's queued / cancel events), so there are no duplicates or gaps. One statement, one
round trip: a job reporting at 200 events/s flushes that often, and the five round trips of
lock, insert, update, begin and commit were most of an event's latency.

A worker's writes carry a fence: its attempt number. The statement changes the row only while
the job is `running` that attempt, so an attempt the reaper gave up on (and another worker now
runs) writes nothing more, whatever its clock or its pauses; it learns so from `Fenced`.
"""
from __future__ import annotations

import json
import logging

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.functions import Now
from django.utils import timezone

from .models import Job, JobEvent

log = logging.getLogger(__name__)

# events a job reports about itself at a high rate; everything else (status, artifacts) changes
# what the job is, and its commit waits for the disk
TELEMETRY_TYPES = ("progress", "metric", "log")


class Fenced(Exception):
    """The job is no longer `running` this attempt: the write was refused, nothing was stored."""


def fence_sql(fence: int | None) -> str:
    return "" if fence is None else f"AND attempts = %(fence)s AND status = '{Job.Status.RUNNING.value}'"


def held(job_id: int, fence: int | None):
    """The job row, filtered to the attempt `fence` while it runs (everything when None)."""
    rows = Job.objects.filter(pk=job_id)
    return rows if fence is None else rows.filter(attempts=fence, status=Job.Status.RUNNING)

_APPEND = """
WITH {config} job AS (
    UPDATE {jobs} SET last_seq = last_seq + %(n)s{sets}
    WHERE id = %(job_id)s AND last_seq >= %(expect)s {fence} {after_config}
    RETURNING last_seq - %(n)s AS base
), rows AS (
    INSERT INTO {events} (job_id, seq, type, data, ts)
    SELECT %(job_id)s, job.base + e.i, e.type, e.data, %(ts)s
    FROM job, unnest(%(types)s::varchar[], %(datas)s::jsonb[]) WITH ORDINALITY AS e(type, data, i)
)
SELECT base FROM job
"""


def append_events(job_id: int, items: list[tuple[str, dict]], job_updates: dict | None = None,
                  durable: bool = True, unsure=None, fence: int | None = None) -> list[JobEvent]:
    """Store events (and optional Job field updates) atomically; returns the rows.

    `durable=False` (telemetry only) commits without waiting for the WAL flush, a wait that can
    be most of an event's latency. PostgreSQL writes such a commit within 3 x wal_writer_delay; a
    server crash in that window loses a suffix of the events: `unsure` are the rows this writer
    committed so (oldest first), and those the database no longer holds are written again before
    the new ones, so the history stays whole and gap-free.

    With `fence` (an attempt number) nothing is stored unless the job is running that attempt:
    then `Fenced` is raised. A `Now()` in `job_updates` is the database's clock."""
    if not items and not job_updates:
        return []
    now = timezone.now()
    # the statement only runs if the job still has every seq this writer stored
    expect = unsure[-1].seq if unsure else 0
    base = _append(job_id, items, job_updates or {}, durable, expect, now, fence)
    if base is None:
        if not Job.objects.filter(pk=job_id).exists():
            raise Job.DoesNotExist(f"job {job_id}")
        return _append_after_loss(job_id, items, job_updates or {}, unsure, now, fence)
    return [JobEvent(job_id=job_id, seq=base + i, type=type_, data=data, ts=now)
            for i, (type_, data) in enumerate(items, start=1)]


def _append(job_id, items, updates, durable, expect, now, fence) -> int | None:
    sets, params = [], {"job_id": job_id, "n": len(items), "expect": expect, "ts": now, "fence": fence,
                        "types": [t for t, _ in items], "datas": [json.dumps(d) for _, d in items]}
    for i, (name, value) in enumerate(updates.items()):
        field = Job._meta.get_field(name)
        if isinstance(value, Now):  # the database's clock: workers' clocks may disagree
            sets.append(f", {connection.ops.quote_name(field.column)} = now()")
            continue
        sets.append(f", {connection.ops.quote_name(field.column)} = %(u{i})s")
        params[f"u{i}"] = value.pk if isinstance(value, Model) else field.get_db_prep_save(value, connection)
    # set_config(..., true) lasts until this statement's own transaction commits
    config = "" if durable else "config AS (SELECT set_config('synchronous_commit', 'off', true)),"
    sql = _APPEND.format(config=config, after_config="" if durable else "AND EXISTS (SELECT FROM config)",
                         fence=fence_sql(fence),
                         jobs=Job._meta.db_table, events=JobEvent._meta.db_table, sets="".join(sets))
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return None if row is None else row[0]


def _append_after_loss(job_id, items, updates, unsure, now, fence) -> list[JobEvent]:
    # inside a caller's transaction no savepoint: a failure rolls the whole of it back anyway
    with transaction.atomic(savepoint=False):
        last_seq = held(job_id, fence).select_for_update().values_list("last_seq", flat=True).first()
        if last_seq is None:
            raise Fenced(f"job {job_id} is no longer running attempt {fence}")
        lost = _lost(job_id, unsure, last_seq)
        stamped = [(r.type, r.data, r.ts) for r in lost] + [(type_, data, now) for type_, data in items]
        rows = [JobEvent(job_id=job_id, seq=last_seq + i, type=type_, data=data, ts=ts)
                for i, (type_, data, ts) in enumerate(stamped, start=1)]
        JobEvent.objects.bulk_create(rows)
        Job.objects.filter(pk=job_id).update(**updates, last_seq=last_seq + len(rows))
    return rows


def _lost(job_id: int, unsure, last_seq: int) -> list[JobEvent]:
    """Which of `unsure` the database does not hold as written (after a crash another writer
    may have taken some of their seqs): those go again at the end of the history."""
    def key(seq, type_, data):
        return seq, type_, json.dumps(data, sort_keys=True)

    stored = {key(*row) for row in JobEvent.objects.filter(job_id=job_id, seq__gte=unsure[0].seq,
                                                             seq__lte=last_seq).values_list("seq", "type", "data")}
    lost = [r for r in unsure if key(r.seq, r.type, r.data) not in stored]
    log.warning("job %s: the database lost %d events it had accepted (a crash); writing them again",
                job_id, len(lost))
    return lost
