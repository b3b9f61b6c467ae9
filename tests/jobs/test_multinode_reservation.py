"""The reservation in the database and Redis (jobs/scheduler.py, jobs/multinode.py): node 0 invites the
reserved workers, another live one only once a reserved peer went silent; an admitted multi-node job not
claimed yet whose reserved worker went silent goes back to waiting."""
import pytest
from django.utils import timezone

from jobs import multinode, scheduler, workers
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)
QUEUE = "mn-test"  # only this test's worker records serve it: the session's worker runs none of these


@pytest.fixture
def beats():
    names = ["a@mn", "b@mn", "c@mn"]
    for name in names:
        workers.beat(name, [QUEUE], "CPU", concurrency=1)
    yield names
    for name in names:
        workers.forget(name)


def test_node_0_invites_the_reserved_peers_and_another_only_once_one_is_silent(user, beats):
    job = Job.objects.create(owner=user, kind="train", queue=QUEUE, params={"nodes": 3}, status="running",
                             worker="a@mn", admitted_at=timezone.now(), reserved_workers=["a@mn", "c@mn", "b@mn"])
    assert [w["name"] for w in multinode.candidates(job, "a@mn", set())] == ["c@mn", "b@mn"]
    assert [w["name"] for w in multinode.candidates(job, "a@mn", {"c@mn"})] == ["b@mn"]
    job.reserved_workers = ["a@mn", "c@mn"]  # b is live but not reserved: not invited
    assert [w["name"] for w in multinode.candidates(job, "a@mn", set())] == ["c@mn"]
    workers.forget("c@mn")  # the reserved peer went silent before joining
    assert [w["name"] for w in multinode.candidates(job, "a@mn", {"c@mn"})] == ["b@mn"]


def test_an_unclaimed_multi_node_job_whose_reserved_worker_went_silent_waits_again(user, beats):
    job = Job.objects.create(owner=user, kind="train", queue=QUEUE, params={"nodes": 2}, admitted_at=timezone.now(),
                             sent_at=timezone.now(), reserved_workers=["a@mn", "gone@mn"])
    # b and c hold a slot each: the job cannot be admitted again at once, on the two it would need
    for name in ("b@mn", "c@mn"):
        Job.objects.create(owner=user, kind="sample", queue=QUEUE, status="running", worker=name,
                           admitted_at=timezone.now())
    assert scheduler.schedule() == []
    job.refresh_from_db()
    assert (job.status, job.admitted_at, job.sent_at, job.reserved_workers) == ("queued", None, None, None)
    state = scheduler.read_state(queues={QUEUE})
    assert scheduler.fairshare.order(state, scheduler.fairshare.plan(state))[job.pk] == (
        1, "waiting for 2 free workers on queue mn-test")
