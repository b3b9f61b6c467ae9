"""Multi-node training: the worker that claims a job with `nodes` > 1 is node 0; it gathers the others.

Node 0 hosts the c10d rendezvous (ml/train/cluster.py) on its address (LAB_NODE_ADDRESS) and invites
the workers the scheduler reserved for the job at admission (`Job.reserved_workers`, node 0 first: the
job's message went to node 0's own queue) by a `run_node` task on each one's own queue (Celery's
worker-direct queue, `<name>.dq2`). A job admitted before reservations existed invites live workers of
its queue, seen through their heartbeats (jobs/workers.py): idle workers first, freshest beat first, one
per missing node, and more each poll while nodes are missing. A worker that came takes the next node rank, builds the
job's inputs itself (from the object store when there is one) and computes its share of each step;
only node 0 reports, checkpoints and publishes.

A node lost mid-run ends node 0's collective (at once when its process dies, after
LAB_COLLECTIVE_TIMEOUT_SECONDS when its host goes silent): the attempt is requeued as a lost worker's
is (jobs/reaper.py), and the next one resumes from node 0's last checkpoint on the nodes live then.
A peer of a lost attempt is invited again only once it has beaten since: a dead one never is.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile

from celery import shared_task
from celery.utils.nodenames import worker_direct
from django.conf import settings
from django.db import transaction

from ml.reporting import Cancelled

from . import workers
from .devices import held
from .events import record
from .models import Job

log = logging.getLogger(__name__)
LOST_TTL_SECONDS = 24 * 3600


def _lost_key(job_id: int) -> str:
    return f"{settings.LAB_KEY_PREFIX}job:{job_id}:lost-peers"


def _poll_seconds() -> float:
    return max(0.5, settings.LAB_WORKER_STALE_SECONDS / 6)  # a worker beats this often (worker_hooks)


def lost_peers(job_ids: list[int]) -> dict[int, dict[str, float]]:
    """{job id: {peer of its lost attempt: its last beat then}} (the scheduler reserves none of them
    until it beats again)."""
    try:
        pipe = workers.client().pipeline()
        for i in job_ids:
            pipe.hgetall(_lost_key(i))
        found = pipe.execute()
    except Exception:  # noqa: BLE001 - Redis restarting: no record of lost peers to honour
        return {}
    return {i: {k.decode(): float(v.decode()) for k, v in h.items()} for i, h in zip(job_ids, found) if h}


def candidates(job: Job, me: str, skip: set[str]) -> list[dict]:
    """The workers to invite: those reserved for the job (not this one, not invited already), in the
    reservation's order (and, once a reserved one is not live, other live workers after them). Without a
    reservation: live workers of the job's queue, not a peer of a lost
    attempt that has not beaten since, idle ones (no running job) first, freshest first."""
    if job.reserved_workers:
        peers = [name for name in job.reserved_workers if name != me]
        live = {w["name"] for w in workers.online()}
        out = [{"name": name} for name in peers if name not in skip and name in live]
        if set(peers) <= live:
            return out
        # a reserved peer went silent before it joined: another live worker of the queue takes its node
        return out + _unreserved(job, me, skip | set(peers))
    return _unreserved(job, me, skip)


def _unreserved(job: Job, me: str, skip: set[str]) -> list[dict]:
    lost = lost_peers([job.pk]).get(job.pk, {})
    busy = set(Job.objects.filter(status=Job.Status.RUNNING).exclude(pk=job.pk).values_list("worker", flat=True))
    out = [w for w in workers.online() if w["name"] != me and w["name"] not in skip and job.queue in w["queues"]
           and w["ts"] > lost.get(w["name"], float("-inf"))]
    return sorted(out, key=lambda w: (w["name"] in busy, -w["ts"]))


@contextlib.contextmanager
def nodes_for(job: Job, params, reporter):
    """Around the runner of an attempt: for `nodes` > 1, the other nodes have joined and `reporter.cluster`
    says where they are; the rendezvous closes after."""
    nodes = getattr(params, "nodes", 1)
    if nodes <= 1:
        yield None
        return
    from ml.train.cluster import PeerLost, host

    me = job.worker
    cluster = host(workers.node_address(), nodes, me, settings.LAB_COLLECTIVE_TIMEOUT_SECONDS)
    invited: list[str] = []

    def invite():
        if reporter.should_stop():
            raise Cancelled("cancelled while waiting for the other nodes")
        missing = nodes - 1 - min(int(cluster.store.add("joined", 0)), nodes - 1)
        for peer in candidates(job, me, set(invited))[:missing]:
            run_node.apply_async(args=[job.pk, job.attempts, cluster.master_addr, cluster.master_port, nodes],
                                 queue=worker_direct(peer["name"]), expires=settings.LAB_NODE_JOIN_SECONDS,
                                 soft_time_limit=job_kind(job).soft_time_limit, time_limit=job_kind(job).time_limit)
            invited.append(peer["name"])

    reporter.log(f"waiting for {nodes - 1} more node(s) at the rendezvous {cluster.master_addr}:{cluster.master_port}")
    try:
        cluster.wait_for_nodes(settings.LAB_NODE_JOIN_SECONDS, invite, _poll_seconds())
        reporter.log(f"{nodes} nodes, {params.world_size // nodes} process(es) each: "
                     + ", ".join(f"node {k} {cluster.names[k]}" for k in range(nodes)))
        reporter.cluster = cluster
        try:
            yield cluster
        except PeerLost:
            remember_lost(job, cluster)
            raise
    finally:
        reporter.cluster = None
        cluster.store = None  # the last reference: the rendezvous server closes


def job_kind(job: Job):
    from .registry import get_kind

    return get_kind(job.kind)


def remember_lost(job: Job, cluster) -> None:
    """The peers of a lost attempt, with their last beat: not invited again until they beat anew."""
    beats = {w["name"]: w["ts"] for w in workers.online()}
    peers = {name: beats.get(name, 0.0) for k, name in cluster.names.items() if k != cluster.node_rank}
    try:
        pipe = workers.client().pipeline()
        pipe.hset(_lost_key(job.pk), mapping={k: repr(float(v)) for k, v in peers.items()})
        pipe.expire(_lost_key(job.pk), LOST_TTL_SECONDS)
        pipe.execute()
    except Exception:  # noqa: BLE001 - without the record a dead peer may be invited once more, and time out
        log.warning("job %s: could not note its lost peers", job.pk, exc_info=True)


def requeue_after_lost_peer(job: Job, attempt: int, reason: str) -> bool:
    """Send the job back to its queue for the next attempt, as the reaper does for a lost worker; False
    when this attempt no longer holds the job, or it used its last attempt (it then ends failed)."""
    from .tasks import enqueue
    from .usage import close_runs

    with transaction.atomic():
        held = Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING, attempts=attempt).first()
        if held is None or held.attempts >= held.max_attempts:
            return False
        text = f"{reason}; requeued for attempt {held.attempts + 1} of {held.max_attempts}"
        # back to waiting for admission, as the reaper's requeue (jobs/scheduler.py)
        record(held, [("log", {"text": text}), ("status", {"status": "queued"})],
               {"status": Job.Status.QUEUED, "heartbeat_at": None, "sent_at": None, "admitted_at": None}, fence=attempt)
        close_runs(held.pk)
        enqueue(held)
    return True


@shared_task(name="jobs.run_node", acks_late=False)  # a lost node's task is not run again: its attempt is over
def run_node(job_id: int, attempt: int, addr: str, port: int, nodes: int) -> None:
    """One node other than 0 of a multi-node training: join the rendezvous, compute, report nothing."""
    from ml.train.cluster import take_rank
    from ml.train.ddp import join

    from .resolve import resolve_artifacts

    name = run_node.request.hostname or "worker"
    job = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempt).select_related("owner").first()
    if job is None:  # came too late: the attempt ended (or node 0 gave up waiting)
        log.info("job %s: attempt %s no longer runs; node task dropped", job_id, attempt)
        return
    kind = job_kind(job)
    try:
        cluster = take_rank(addr, port, nodes, name, settings.LAB_COLLECTIVE_TIMEOUT_SECONDS,
                            settings.LAB_NODE_JOIN_SECONDS)
        if cluster is None:
            log.info("job %s: its %s nodes were all there; %s is not needed", job_id, nodes, name)
            return
        try:  # this node's own inputs (from the store): one it cannot read fails the job, saying so
            params = kind.params.model_validate(resolve_artifacts(job.params, job.owner))
        except Exception as exc:
            cluster.report_error(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            cluster.arrive()
        if not cluster.wait_go(settings.LAB_NODE_JOIN_SECONDS):
            log.info("job %s: node 0 gave up waiting for the other nodes", job_id)
            return
        log.info("job %s: node %s of %s on %s", job_id, cluster.node_rank, nodes, name)
        # this node's own devices, as node 0 holds its (jobs/devices.py)
        with held(job, name, lambda text: log.info("job %s: %s", job_id, text), node0=False), \
                tempfile.TemporaryDirectory(prefix=f"lab-node-{job_id}-") as out:
            join(params, cluster, out)
    except Exception:  # node 0 says what went wrong, in the job's events; this worker lives on
        log.warning("job %s: node task on %s ended", job_id, name, exc_info=True)
