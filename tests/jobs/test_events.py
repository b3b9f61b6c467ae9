"""Storing events: telemetry commits without waiting for the disk, and what a database crash
takes back from such commits is written again, so the history stays whole and gap-free."""
from collections import deque

import pytest
from django.db import connection

from jobs.eventlog import append_events
from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db(transaction=True)


def history(job):
    return [(e.seq, e.data.get("text", e.data.get("status"))) for e in JobEvent.objects.filter(job=job).order_by("seq")]


def crash_takes_back_events_after(job, seq):
    """What PostgreSQL leaves after an immediate stop within wal_writer_delay of unsynced commits."""
    JobEvent.objects.filter(job=job, seq__gt=seq).delete()
    Job.objects.filter(pk=job.pk).update(last_seq=seq)


def test_telemetry_commits_do_not_wait_for_the_disk_and_status_commits_do(make_job):
    from django.db import transaction

    job = make_job()

    def commit_mode_after(durable):
        # the setting is local to the statement's transaction: seen here inside an outer one
        with transaction.atomic(), connection.cursor() as cur:
            append_events(job.pk, [("log", {"text": "x"})], durable=durable)
            cur.execute("SHOW synchronous_commit")
            return cur.fetchone()[0]

    assert commit_mode_after(durable=False) == "off"
    assert commit_mode_after(durable=True) == "on"
    with connection.cursor() as cur:  # and nothing leaks into the connection's later transactions
        cur.execute("SHOW synchronous_commit")
        assert cur.fetchone()[0] == "on"


def test_events_a_crash_took_back_are_written_again_before_new_ones(make_job):
    job = make_job()  # seq 1: queued
    unsure = deque(append_events(job.pk, [("log", {"text": str(i)}) for i in range(5)], durable=False))
    crash_takes_back_events_after(job, 3)  # lost: "2", "3", "4" (seqs 4, 5, 6)
    append_events(job.pk, [("log", {"text": "after"})], durable=False, unsure=unsure)
    texts = [t for _s, t in history(job)[1:]]
    assert texts == ["0", "1", "2", "3", "4", "after"]
    assert [s for s, _t in history(job)] == list(range(1, 8))
    assert Job.objects.get(pk=job.pk).last_seq == 7


def test_a_write_by_another_process_after_the_crash_keeps_its_seq_and_nothing_is_lost(make_job):
    job = make_job()
    unsure = deque(append_events(job.pk, [("log", {"text": str(i)}) for i in range(3)], durable=False))
    crash_takes_back_events_after(job, 2)  # lost: "1", "2"
    append_events(job.pk, [("log", {"text": "cancel requested"})])  # the web process, seq 3
    append_events(job.pk, [("log", {"text": "after"})], durable=False, unsure=unsure)
    assert history(job)[1:] == [(2, "0"), (3, "cancel requested"), (4, "1"), (5, "2"), (6, "after")]


def test_nothing_is_written_twice_when_nothing_was_lost(make_job):
    job = make_job()
    unsure = deque(append_events(job.pk, [("log", {"text": str(i)}) for i in range(3)], durable=False))
    append_events(job.pk, [("log", {"text": "after"})], durable=False, unsure=unsure)
    assert [t for _s, t in history(job)[1:]] == ["0", "1", "2", "after"]
