"""The worker's Reporter: every call is a stored event with the next seq, high-rate calls coalesced."""
import pytest

from jobs.models import JobEvent
from jobs.reporter import JobReporter
from jobs.tasks import job_dir

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_is_coalesced_and_the_last_value_always_delivered(make_job):
    job = make_job()
    rep = JobReporter(job, job_dir(job))
    for i in range(1, 20001):
        rep.progress(i, 20000)
    rep.close()
    progress = [e.data for e in JobEvent.objects.filter(job=job, type="progress").order_by("seq")]
    # 20k calls in well under a second: at ~20 writes/s only a handful of rows may exist
    assert 1 <= len(progress) < 200
    assert progress[-1] == {"done": 20000, "total": 20000}
    job.refresh_from_db()
    assert job.progress == pytest.approx(1.0)


def test_metric_points_are_all_kept_in_order(make_job):
    job = make_job()
    rep = JobReporter(job, job_dir(job))
    for step in range(500):
        rep.metric("loss", 1.0 / (step + 1), step)
    rep.log("done")
    rep.close()
    events = list(JobEvent.objects.filter(job=job).order_by("seq"))
    steps = [e.data["step"] for e in events if e.type == "metric"]
    assert steps == list(range(500))
    assert events[-1].type == "log" and events[-1].data == {"text": "done"}
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "seq must be gap-free from 1"


def test_non_finite_metric_is_stored_as_null(make_job):
    job = make_job()
    rep = JobReporter(job, job_dir(job))
    rep.metric("loss", float("nan"), 0)
    rep.close()
    assert JobEvent.objects.get(job=job, type="metric").data["value"] is None


def test_should_stop_follows_the_cancel_flag(make_job):
    from jobs.models import Job

    job = make_job()
    rep = JobReporter(job, job_dir(job))
    assert rep.should_stop() is False
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    rep.flush()
    rep._last_beat = 0.0  # the next flush is a heartbeat, which re-reads the flag
    rep.flush()
    assert rep.should_stop() is True
    rep.close()


def test_artifact_records_size_and_sha256(make_job):
    import hashlib

    from jobs.models import Artifact

    job = make_job()
    rep = JobReporter(job, job_dir(job))
    path = rep.out_dir / "hello.txt"
    path.write_bytes(b"hello lab")
    rep.artifact("hello.txt", path, "report")
    rep.close()
    art = Artifact.objects.get(job=job)
    assert art.size == 9 and art.sha256 == hashlib.sha256(b"hello lab").hexdigest()
    ev = JobEvent.objects.get(job=job, type="artifact")
    assert ev.data == {"id": art.pk, "name": "hello.txt", "kind": "report"}


def test_log_lines_a_database_crash_took_back_are_written_again(make_job):
    """Telemetry commits do not wait for the disk; PostgreSQL can lose the last of them in a crash
    (an immediate stop), and the reporter, which still holds them, writes them again."""
    from jobs.models import Job

    job = make_job()
    rep = JobReporter(job, job_dir(job))
    for i in range(5):
        rep.log(f"line {i}")
    rep.flush()
    # what the crash leaves: the history up to "line 1"
    kept = JobEvent.objects.get(job=job, type="log", data={"text": "line 1"}).seq
    JobEvent.objects.filter(job=job, seq__gt=kept).delete()
    Job.objects.filter(pk=job.pk).update(last_seq=kept)
    rep.log("after the crash")
    rep.close()
    events = list(JobEvent.objects.filter(job=job).order_by("seq"))
    assert [e.data["text"] for e in events if e.type == "log"] == [f"line {i}" for i in range(5)] + ["after the crash"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_what_the_flusher_writes_it_publishes_to_the_jobs_group(make_job):
    import asyncio

    from channels.layers import get_channel_layer

    from jobs.events import job_group

    job = make_job()
    layer = get_channel_layer()
    loop = asyncio.new_event_loop()

    async def subscribe():
        channel = await layer.new_channel()
        await layer.group_add(job_group(job.pk), channel)
        return channel

    try:
        channel = loop.run_until_complete(subscribe())
        rep = JobReporter(job, job_dir(job))
        rep.log("hello")  # written by the flusher thread, and sent by it
        # the layer itself, no database catch-up behind it: the message arrives or this times out
        message = loop.run_until_complete(asyncio.wait_for(layer.receive(channel), 30))
        if [e["seq"] for e in message["events"]] == [1]:
            # the job's own `queued` event: create_job hands it to the broadcaster thread at commit,
            # so it can reach the broker after this test subscribed
            message = loop.run_until_complete(asyncio.wait_for(layer.receive(channel), 30))
        rep.close()
    finally:
        loop.close()
    assert [(e["type"], e["data"]) for e in message["events"]] == [("log", {"text": "hello"})]
