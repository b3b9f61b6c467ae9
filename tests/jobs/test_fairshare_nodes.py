"""jobs/fairshare.py for multi-node trainings: one slot on each of `nodes` distinct workers, reserved at
admission, kept for the job when it is the pick and the slots are busy, named in the reasons of the jobs
that wait behind the reservation (docs/scheduling.md)."""
from dataclasses import replace

from jobs.fairshare import Held, State, Waiting, Worker, order, plan

A, B, C = (Worker(f"{n}@host", frozenset({"cpu"}), 1) for n in "abc")


def job(i, nodes=1, owner=1, avoid=frozenset(), devices=1):
    return Waiting(i, "cpu", owner, 100 + owner, "normal", (i, i), "train", nodes, devices, avoid)


def reservation(job_id, *workers, owner=1):
    return [Held("cpu", owner, 100 + owner, w.name, job_id, len(workers), int(k == 0)) for k, w in enumerate(workers)]


def test_two_two_node_jobs_with_two_workers_are_admitted_one_at_a_time_on_both():
    state = State([job(1, 2), job(2, 2, owner=2)], [], [A, B])
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [1]
    assert sorted(chosen.reserved[1]) == [A.name, B.name]
    assert chosen.free == {A.name: 0, B.name: 0}
    assert order(state, chosen) == {2: (1, "waiting for 2 free workers on queue cpu: slots reserved by "
                                           "multi-node job 1 (2 nodes)")}


def test_a_reservation_holds_a_slot_on_each_worker_until_the_job_ends():
    held = reservation(7, A, B)
    state = State([job(8)], held, [A, B, C])
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [8] and chosen.free == {A.name: 0, B.name: 0, C.name: 0}
    # with C busy too, the single-slot job waits naming the reservation; quotas count the job once
    state = State([job(8)], held + [Held("cpu", 2, 102, C.name, 9)], [A, B, C], user_cap=2)
    chosen = plan(state)
    assert chosen.admit == [] and chosen.held_user[1] == 1
    assert order(state, chosen) == {8: (1, "waiting for a worker on queue cpu: slots reserved by "
                                           "multi-node job 7 (2 nodes)")}


def test_the_slots_that_free_up_are_kept_for_a_multi_node_job_that_is_the_pick():
    # job 1 (2 nodes) is first; only A is free: single-slot job 2 must not take A, or 1 could starve
    state = State([job(1, 2), job(2, owner=2)], [Held("cpu", 3, 103, B.name, 9)], [A, B])
    chosen = plan(state)
    assert chosen.admit == [] and chosen.free == {A.name: 1, B.name: 0}


def test_a_job_needing_more_workers_than_the_queue_has_is_passed_over_saying_so():
    state = State([job(1, 3), job(2, owner=2)], [], [A, B])
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [2]
    assert order(state, chosen)[1] == (1, "waiting: a 3-node training needs 3 workers on queue cpu, 2 are live")


def test_peers_of_a_lost_attempt_that_have_not_beaten_since_are_not_reserved():
    state = State([job(1, 2, avoid=frozenset({B.name}))], [], [A, B, C])
    assert plan(state).reserved == {1: [A.name, C.name]}
    state.waiting = [replace(state.waiting[0], avoid=frozenset({B.name, C.name}))]
    assert plan(state).admit == []


def test_devices_are_counted_per_worker_and_a_job_waits_for_a_worker_that_has_them_free():
    gpus4 = Worker("g@host", frozenset({"cpu"}), 4, devices=4)
    held = [Held("cpu", 2, 102, gpus4.name, 9, devices=3)]
    state = State([job(1, devices=2), job(2, owner=3)], held, [gpus4])
    chosen = plan(state)
    # job 1 is the pick but 1 device is free: the queue keeps it for job 1, job 2 does not take it
    assert chosen.admit == [] and chosen.free_devices == {gpus4.name: 1}
    assert order(state, chosen)[1] == (1, "waiting for a worker on queue cpu with 2 free devices")
    state.held = []
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [1, 2] and chosen.free_devices == {gpus4.name: 1}
    # a worker counts at least one device per slot; more than any worker has: passed over, saying so
    state = State([job(1, devices=5), job(2, owner=3)], [], [gpus4])
    assert [j.id for j in plan(state).admit] == [2]
    assert order(state, plan(state))[1] == (1, "waiting: needs 5 devices on one worker, a live worker of queue cpu "
                                               "has at most 4")


def test_kept_slots_are_not_taken_by_another_queue_the_same_workers_serve():
    # A and B serve cpu and gpu; the 2-node cpu job is the pick and only A is free: a stream of gpu
    # jobs taking A as it frees would starve it
    shared = [replace(w, queues=frozenset({"cpu", "gpu"})) for w in (A, B)]
    gpu_job = replace(job(2, owner=2), queue="gpu")
    state = State([job(1, 2), gpu_job], [Held("cpu", 3, 103, B.name, 9)], shared)
    chosen = plan(state)
    assert chosen.admit == [] and chosen.free == {A.name: 1, B.name: 0}
    assert chosen.kept == {A.name: 1, B.name: 1}
    assert order(state, chosen)[2] == (1, "waiting for a worker on queue gpu: free slots kept for job 1")
    # a worker the 2-node job cannot use (it serves gpu only) still takes the gpu job
    state.workers = shared + [replace(C, queues=frozenset({"gpu"}))]
    assert [j.id for j in plan(state).admit] == [2]
