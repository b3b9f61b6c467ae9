"""The admission policy, as a pure function of the state the scheduler read (docs/scheduling.md).

Per pick, among the waiting jobs: the highest priority first; within a priority the project, then
the user, holding the fewest slots now; then the least decayed recent usage (project, then user);
then submission order. Slots are held by running jobs and by admitted ones not yet claimed. A job
whose project is at its `max_running`, or whose user is at the per-user cap, is passed over and
waits with that reason; the next job is considered (no head-of-line blocking).

`plan` makes the admissions of one pass; `order` ranks every job left waiting the same way, as if
slots freed one at a time, for `queue_position` and `waiting_reason`.

A multi-node training (`nodes` > 1) takes one slot on each of `nodes` distinct workers of its queue,
reserved at admission (`Plan.reserved`, stored on the job: node 0 invites exactly those). When it is
the pick and fewer workers have a free slot, its queue admits nothing more this pass (the slots that
free up are kept for it, so single-slot jobs do not starve it), unless the queue has fewer such
workers at all: then it is passed over, and waits saying so.
"""
from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

PRIORITY = {"low": 0, "normal": 1, "high": 2}


@dataclass(frozen=True)
class Waiting:
    id: int
    queue: str
    owner: int
    project: int
    priority: str
    seq: tuple  # rank in submission order: (created_at, id)
    kind: str = ""
    nodes: int = 1  # workers it spans (a multi-node training): one slot on each
    devices: int = 1  # devices it needs on each of them
    avoid: frozenset[str] = frozenset()  # peers of its lost attempt that have not beaten since


@dataclass(frozen=True)
class Held:
    """A slot in use: a running job (`worker` set), an admitted one not claimed yet (`worker` None),
    or one of the slots a multi-node job reserved (`worker` set, `job` its id, `nodes` > 1; one row
    per reserved worker, only the first with `jobs` 1: quotas count jobs, not slots)."""
    queue: str
    owner: int
    project: int
    worker: str | None
    job: int = 0
    nodes: int = 1
    jobs: int = 1
    devices: int = 1


@dataclass(frozen=True)
class Worker:
    name: str
    queues: frozenset[str]
    slots: int
    beat: float = 0.0  # its last presence beat (time.time())
    devices: int = 0  # the GPUs it announced

    @property
    def capacity(self) -> int:
        """The devices admission counts: its GPUs, but at least one per slot (a worker without GPUs,
        or several jobs sharing a GPU as before devices were counted)."""
        return max(self.devices, self.slots)


@dataclass
class State:
    waiting: list[Waiting]
    held: list[Held]
    workers: list[Worker]
    user_usage: dict[int, float] = field(default_factory=dict)
    project_usage: dict[int, float] = field(default_factory=dict)
    project_cap: dict[int, int | None] = field(default_factory=dict)
    user_cap: int = 0  # 0: none
    per_group: int = 0  # how many waiting jobs of each group were read (jobs/scheduler.py)
    stranded: list[int] = field(default_factory=list)  # see jobs/scheduler.py _release_stranded


@dataclass
class Plan:
    admit: list[Waiting]
    # why a job did not start this pass, for those passed over by a quota
    quota: dict[int, str]
    free: dict[str, int]  # free slots per worker after the admissions
    held_user: Counter
    held_project: Counter
    # multi-node or GPU job id: its workers, node 0 first
    reserved: dict[int, list[str]] = field(default_factory=dict)
    free_devices: dict[str, int] = field(default_factory=dict)  # per worker, after the admissions
    kept: dict[str, int] = field(default_factory=dict)  # worker: the waiting job its free slots are kept for


def free_slots(state: State) -> dict[str, int]:
    return free_slots_and_devices(state)[0]


def free_slots_and_devices(state: State) -> tuple[dict[str, int], dict[str, int]]:
    """Free slots and devices per live worker: its concurrency (devices) less its running jobs' (and
    reservations'), less the admitted jobs' not yet claimed, each given to a worker of its queue (the
    one serving fewest queues first, that has the devices)."""
    free = {w.name: w.slots for w in state.workers}
    dev = {w.name: w.capacity for w in state.workers}
    unclaimed = []
    for h in state.held:
        if h.worker in free:
            free[h.worker] -= 1
            dev[h.worker] -= h.devices
        elif h.worker is None:
            unclaimed.append(h)
    by_size = sorted(state.workers, key=lambda w: (len(w.queues), w.name))
    for h in unclaimed:
        for w in by_size:
            if h.queue in w.queues and free[w.name] > 0 and dev[w.name] >= h.devices:
                free[w.name] -= 1
                dev[w.name] -= h.devices
                break
    return free, dev


def _by_fit(workers: list[Worker]) -> list[Worker]:
    return sorted(workers, key=lambda w: (len(w.queues), w.name))


def eligible(job: Waiting, state: State) -> list[Worker]:
    """The live workers that may take (a node of) `job`, whatever they run now."""
    return [w for w in state.workers if job.queue in w.queues and w.slots > 0 and w.capacity >= job.devices
            and w.name not in job.avoid]


def held_counts(held: list[Held]) -> tuple[Counter, Counter]:
    user, project = Counter(), Counter()
    for h in held:
        user[h.owner] += h.jobs
        project[h.project] += h.jobs
    return user, project


def _key(job: Waiting, state: State, held_user: Counter, held_project: Counter):
    return (-PRIORITY.get(job.priority, 1), held_project[job.project], state.project_usage.get(job.project, 0.0),
            held_user[job.owner], state.user_usage.get(job.owner, 0.0), job.seq)


class _Picker:
    """Jobs grouped by (queue, project, owner), each group in (priority, seq) order; the heap holds
    each group's head under its key. Keys depend on held counts, which change as jobs are picked:
    a popped head whose key grew is pushed back with the new one (keys only grow)."""

    def __init__(self, jobs: list[Waiting], state: State, held_user: Counter, held_project: Counter):
        self.state, self.held_user, self.held_project = state, held_user, held_project
        groups: dict[tuple, list[Waiting]] = {}
        for job in jobs:
            groups.setdefault((job.queue, job.project, job.owner), []).append(job)
        self.groups = {g: sorted(js, key=lambda j: (-PRIORITY.get(j.priority, 1), j.seq), reverse=True)
                       for g, js in groups.items()}  # reversed: pop() takes the head
        self.heap = [(self._key(js[-1]), g) for g, js in self.groups.items()]
        heapq.heapify(self.heap)

    def _key(self, job):
        return _key(job, self.state, self.held_user, self.held_project)

    def pop(self) -> Waiting | None:
        while self.heap:
            key, g = heapq.heappop(self.heap)
            head = self.groups[g][-1]
            now = self._key(head)
            if now != key:
                heapq.heappush(self.heap, (now, g))
                continue
            return head
        return None

    def take(self, job: Waiting) -> None:
        """The head of its group is picked: the group's next job takes its place."""
        g = (job.queue, job.project, job.owner)
        self.groups[g].pop()
        self.held_user[job.owner] += 1
        self.held_project[job.project] += 1
        if self.groups[g]:
            heapq.heappush(self.heap, (self._key(self.groups[g][-1]), g))

    def skip(self, job: Waiting) -> None:
        """The head of its group waits this pass (it does not fit): the group's next job is considered."""
        g = (job.queue, job.project, job.owner)
        self.groups[g].pop()
        if self.groups[g]:
            heapq.heappush(self.heap, (self._key(self.groups[g][-1]), g))

    def drop_group(self, job: Waiting) -> list[Waiting]:
        g = (job.queue, job.project, job.owner)
        rest, self.groups[g] = self.groups[g], []
        return rest


def quota_reason(job: Waiting, state: State, held_user: Counter, held_project: Counter) -> str | None:
    cap = state.project_cap.get(job.project)
    if cap is not None and held_project[job.project] >= cap:
        return f"your project runs {held_project[job.project]} of {cap} jobs"
    if state.user_cap and held_user[job.owner] >= state.user_cap:
        return f"you run {held_user[job.owner]} of {state.user_cap} jobs (the per-user cap)"
    return None


def plan(state: State) -> Plan:
    """The jobs to admit now, best first, each into a free slot of a worker serving its queue."""
    free, dev = free_slots_and_devices(state)
    held_user, held_project = held_counts(state.held)
    # workers whose free slots wait for a multi-node (or many-device) job that is the pick: no job of any
    # queue they serve takes them, or a stream of small jobs on a queue they share could starve it
    kept: dict[str, int] = {}

    def opened():
        return {q for w in state.workers if free[w.name] > 0 and w.name not in kept for q in w.queues}

    open_queues = opened()
    candidates = [j for j in state.waiting if j.queue in open_queues]
    picker = _Picker(candidates, state, held_user, held_project)
    admit, quota, reserved = [], {}, {}
    while open_queues:
        job = picker.pop()
        if job is None:
            break
        if job.queue not in open_queues:
            picker.drop_group(job)
            continue
        why = quota_reason(job, state, held_user, held_project)
        if why is not None:  # the rest of its group is over the same quota
            for j in picker.drop_group(job):
                quota[j.id] = why
            continue
        can = eligible(job, state)
        fit = _by_fit([w for w in can if w.name not in kept and free[w.name] > 0
                       and dev[w.name] >= job.devices])[:job.nodes]
        if len(fit) < job.nodes:
            picker.skip(job)
            if len(can) >= job.nodes:  # enough workers, busy now: what frees up is kept for it
                kept.update({w.name: job.id for w in can if w.name not in kept})
                open_queues = opened()
            continue
        if job.nodes > 1 or any(w.devices for w in fit):
            # a job on GPUs too: another worker of the queue with a free slot may lack its free devices
            reserved[job.id] = [w.name for w in fit]
        for worker in fit:
            free[worker.name] -= 1
            dev[worker.name] -= job.devices
        if any(free[w.name] == 0 for w in fit):
            open_queues = opened()
        admit.append(job)
        picker.take(job)
    return Plan(admit, quota, free, held_user, held_project, reserved, dev, kept)


def order(state: State, after: Plan, limit: int | None = None) -> dict[int, tuple[int, str]]:
    """{job id: (queue_position, waiting_reason)} for every job still waiting after `after` (only
    the first `limit` of each queue, when given)."""
    admitted = {j.id for j in after.admit}
    left = [j for j in state.waiting if j.id not in admitted]
    live = {q for w in state.workers for q in w.queues}
    held_user, held_project = Counter(after.held_user), Counter(after.held_project)
    blocked = {j.id: why for j in left if (why := quota_reason(j, state, held_user, held_project)) is not None}
    # the ranking goes on as if each pick took a slot: the next picks of the same user rank lower
    picker = _Picker(left, state, Counter(held_user), Counter(held_project))
    ranked: dict[str, list[Waiting]] = {}
    full: set[str] = set()
    queues = {j.queue for j in left}
    while len(full) < len(queues) and (job := picker.pop()) is not None:
        picker.take(job)
        if job.queue in full:
            continue
        ranked.setdefault(job.queue, []).append(job)
        if limit is not None and len(ranked[job.queue]) >= limit:
            full.add(job.queue)
    out = {}
    for queue, jobs in ranked.items():
        ahead = 0
        for i, job in enumerate(jobs):
            can = len(eligible(job, state))
            if queue not in live:
                why = f"waiting: no worker on queue {queue}"
            elif job.id in blocked:
                why = blocked[job.id]
            elif job.nodes > 1 and can < job.nodes:
                why = (f"waiting: a {job.nodes}-node training needs {job.nodes} workers on queue {queue}"
                       + (f" with {job.devices} devices each" if job.devices > 1 else "")
                       + f", {can} {'is' if can == 1 else 'are'} live")
            elif can < job.nodes:
                most = max((w.capacity for w in state.workers if queue in w.queues), default=0)
                why = f"waiting: needs {job.devices} devices on one worker, a live worker of queue {queue} has at most {most}"
            elif ahead:
                why = f"{ahead} job{'s' if ahead > 1 else ''} ahead of you on {queue}"
            else:
                why = _first_in_line(job, state, after)
            out[job.id] = (i + 1, why)
            if job.id not in blocked:
                ahead += 1
    return out


def _first_in_line(job: Waiting, state: State, after: Plan) -> str:
    """Why the next job of its queue is not running: no free slot, naming the multi-node jobs whose
    reservations hold the queue's workers (those held or made by `after`)."""
    workers = [w for w in state.workers if job.queue in w.queues]
    holders = {h.worker: (h.job, h.nodes) for h in state.held if h.nodes > 1}
    holders.update({name: (i, len(names)) for i, names in after.reserved.items() for name in names})
    taken = sorted({holders[w.name] for w in workers if w.name in holders})
    what = f"a worker on queue {job.queue}" if job.nodes <= 1 else f"{job.nodes} free workers on queue {job.queue}"
    # one node and a slot free: its devices are what it waits for
    if job.devices > 1 or (job.nodes <= 1 and any(after.free.get(w.name, 0) > 0
                                                  and after.kept.get(w.name, job.id) == job.id for w in workers)):
        what += f" with {job.devices} free device{'s' if job.devices > 1 else ''}" + (" each" if job.nodes > 1 else "")
    kept_for = sorted({after.kept[w.name] for w in workers if w.name in after.kept} - {job.id})
    if not taken and not kept_for:
        return f"waiting for {what}"
    parts = []
    if taken:
        jobs = ", ".join(f"{i} ({n} nodes)" for i, n in taken)
        parts.append(f"slots reserved by multi-node {'job' if len(taken) == 1 else 'jobs'} {jobs}")
    if kept_for:
        parts.append(f"free slots kept for {'job' if len(kept_for) == 1 else 'jobs'} "
                     + ", ".join(map(str, kept_for)))
    return f"waiting for {what}: " + "; ".join(parts)
