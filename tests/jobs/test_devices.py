"""jobs/devices.py with a real worker: one announcing 4 devices (LAB_FAKE_DEVICES) with 2 slots runs two
2-device jobs on disjoint device indices, each job's processes see only theirs in CUDA_VISIBLE_DEVICES,
and a job that ends frees its devices for the next; a worker with more slots than devices shares them."""
import os

import psutil
import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from tests.helpers import succeeded, wait_for_event, wait_for_status
from tests.procs import start_worker, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]
QUEUE = "dev4"  # only this test's worker serves it
TINY = {"data": {"type": "moons"}, "objective": "rectified_flow", "batch_size": 64, "width": 16, "depth": 1,
        "warmup_steps": 5, "eval_every": 100000, "eval_samples": 64, "ref_nfe": 10, "seed": 5, "device": "cpu",
        "checkpoint_every": 100000}
# two DDP ranks: the second is a process the job spawns, which must inherit the job's devices
LONG = {**TINY, "steps": 100000, "log_every": 10, "world_size": 2}
QUICK = {**TINY, "steps": 10, "log_every": 10}


@pytest.fixture
def four_device_worker():
    proc, out = start_worker("dev4", queues=QUEUE, concurrency=2, extra_env={"LAB_FAKE_DEVICES": "4"})
    yield proc
    stop(proc)
    print("\n--- worker dev4 output (tail) ---\n" + out.tail(40))


def post(api, params, **top) -> int:
    r = api.post("/api/jobs/", {"kind": "train", "params": params, "queue": QUEUE, **top}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def device_log(job_id) -> str:
    event = wait_for_event(job_id, lambda e: e["type"] == "log" and e["data"]["text"].startswith("devices "))
    return event["data"]["text"]


def line(ids: list[int], worker: str) -> str:
    """The job's log line naming its devices, as jobs/devices.py words it."""
    return f"devices {', '.join(map(str, ids))} of {worker} (CUDA_VISIBLE_DEVICES={','.join(map(str, ids))})"


def spawned_masks(worker: psutil.Process) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each DDP rank process under the worker (spawned: a fresh interpreter, whose
    environment is the one it was started with, as CUDA will read it)."""
    return sorted(p.environ().get("CUDA_VISIBLE_DEVICES", "unset") for p in worker.children(recursive=True)
                  if "spawn_main" in " ".join(p.cmdline()))


def pool_processes(worker) -> set[int]:
    return {p.pid for p in psutil.Process(worker.pid).children() if p.status() != psutil.STATUS_ZOMBIE}


def test_two_2_device_jobs_on_a_4_device_worker_get_disjoint_devices_and_an_ended_job_frees_its(
        four_device_worker, user):
    api = APIClient()
    api.force_authenticate(user)
    a, b = post(api, LONG, devices=2), post(api, LONG, devices=2)
    for job_id in (a, b):  # every rank joined: DDP's first step is done (or the job ended, saying why)
        first = wait_for_event(job_id, lambda e: e["type"] == "progress" or e["data"].get("status") == "failed")
        assert first["type"] == "progress", Job.objects.get(pk=job_id).error
    worker = Job.objects.get(pk=a).worker
    got = {j: api.get(f"/api/jobs/{j}/").json()["assigned_devices"] for j in (a, b)}
    assert set(got[a]) == set(got[b]) == {worker}
    assert len(got[a][worker]) == len(got[b][worker]) == 2
    assert sorted(got[a][worker] + got[b][worker]) == [0, 1, 2, 3]  # disjoint, all four used
    masks = {j: ",".join(map(str, got[j][worker])) for j in (a, b)}
    for j in (a, b):
        assert device_log(j) == line(got[j][worker], worker)
    assert spawned_masks(psutil.Process(four_device_worker.pid)) == sorted(masks.values())

    pool = pool_processes(four_device_worker)
    assert len(pool) == 2
    c = post(api, QUICK, devices=2)  # both slots and all devices held: it waits
    waiting = api.get(f"/api/jobs/{c}/").json()["waiting_reason"]
    assert waiting == "waiting for a worker on queue dev4 with 2 free devices"
    assert api.post(f"/api/jobs/{a}/cancel/").status_code == 202
    wait_for_status(a, "cancelled")
    succeeded(c)
    assert api.get(f"/api/jobs/{c}/").json()["assigned_devices"] == got[a]  # a's devices, freed at its end
    assert device_log(c) == line(got[a][worker], worker)
    assert not Job.objects.get(pk=c).events.filter(type="log", data__text__contains="shares").exists()
    # a's and c's pool processes were not used again (CUDA would keep the devices of their first job):
    # of the two there before, only b's is left
    assert len(pool & pool_processes(four_device_worker)) == 1
    assert api.post(f"/api/jobs/{b}/cancel/").status_code == 202
    wait_for_status(b, "cancelled")


@pytest.fixture
def two_4_device_workers():
    """Two workers of queue dev2n, at two addresses (a multi-node training's rendezvous), 4 devices each."""
    knobs = {"LAB_FAKE_DEVICES": "4", "LAB_NODE_JOIN_SECONDS": "20", "LAB_COLLECTIVE_TIMEOUT_SECONDS": "30",
             "OMP_NUM_THREADS": "1"}
    started = [start_worker(name, queues="dev2n", extra_env={**knobs, "LAB_NODE_ADDRESS": addr})
               for name, addr in (("n1", "127.0.0.1"), ("n2", "127.0.0.2"))]
    yield
    for proc, out in started:
        stop(proc)
        print("\n--- worker output (tail) ---\n" + out.tail(20))


def test_each_node_of_a_multi_node_job_gets_its_own_workers_devices(two_4_device_workers, user):
    api = APIClient()
    api.force_authenticate(user)
    r = api.post("/api/jobs/", {"kind": "train", "params": {**TINY, "steps": 30, "log_every": 10, "world_size": 2,
                                                            "nodes": 2}, "queue": "dev2n", "devices": 2}, format="json")
    assert r.status_code == 201, r.content
    job = api.get(f"/api/jobs/{succeeded(r.json()['id']).pk}/").json()
    node0, node1 = job["reserved_workers"]
    assert node0 == job["worker"] and {node0.split("@")[0], node1.split("@")[0]} == {"n1", "n2"}
    # node 0 recorded its devices at its start, node 1 added its own when it joined
    assert job["assigned_devices"] == {node0: [0, 1], node1: [0, 1]}
    assert device_log(job["id"]) == line([0, 1], node0)


@pytest.fixture
def one_device_two_slots(settings):
    """This process configured as a worker with one (fake) device and two slots, as its start does."""
    from types import SimpleNamespace

    from jobs import devices

    settings.LAB_FAKE_DEVICES = 1
    controller = SimpleNamespace(concurrency=2, max_tasks_per_child=None)  # what configure reads of Celery's
    devices.configure(controller)
    yield devices, controller
    devices._tokens, devices._slots = None, 1


def test_more_slots_than_devices_share_them_and_a_third_job_says_it_shares(one_device_two_slots, make_job):
    devices, controller = one_device_two_slots
    assert controller.max_tasks_per_child is None  # one device: every job gets it, no need for fresh processes
    jobs, said = [make_job(kind="train") for _ in range(3)], []
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    with devices.held(jobs[0], "w@devices-test", said.append) as first, \
            devices.held(jobs[1], "w@devices-test", said.append) as second:
        assert first == second == ["0"] and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        assert not [s for s in said if "shares" in s]  # two units on one device: as admission counted
        with devices.held(jobs[2], "w@devices-test", said.append) as third:  # past what admission gives
            assert third == ["0"]
        assert said[-2] == "only 0 of the 1 devices it needs were free on w@devices-test: it shares 0 with another job"
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == before  # put back for the pool process's next job
    with devices.held(jobs[2], "w@devices-test", said.append):  # the first two ended: their units are free
        assert "shares" not in said[-1]
    assert Job.objects.get(pk=jobs[0].pk).assigned_devices == {"w@devices-test": [0]}


@pytest.fixture
def a_2_slot_and_a_1_slot_worker():
    """Queue dev2w: wa with 2 slots, wb with 1, 2 devices each; admission fills wa first (fewest queues, then
    name), so with a 2-device job on wa, wa has a free slot and no free device."""
    started = [start_worker(name, queues="dev2w", concurrency=slots, extra_env={"LAB_FAKE_DEVICES": "2"})
               for name, slots in (("wa", 2), ("wb", 1))]
    yield
    for proc, out in started:
        stop(proc)
        print("\n--- worker output (tail) ---\n" + out.tail(20))


def test_a_many_device_job_goes_to_the_worker_admission_counted_its_devices_on(a_2_slot_and_a_1_slot_worker, user):
    api = APIClient()
    api.force_authenticate(user)

    def submit(params, devices=2) -> int:
        r = api.post("/api/jobs/", {"kind": "train", "params": params, "queue": "dev2w", "devices": devices},
                     format="json")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    first = submit({**TINY, "steps": 100000, "log_every": 10})
    assert wait_for_event(first, lambda e: e["type"] == "progress" or e["data"].get("status") == "failed")["type"] \
        == "progress", Job.objects.get(pk=first).error
    wa = Job.objects.get(pk=first).worker
    assert wa.startswith("wa@") and api.get(f"/api/jobs/{first}/").json()["reserved_workers"] == [wa]
    # wa has a free slot but both its devices are held: only wb has two free, and the job is sent there
    second = api.get(f"/api/jobs/{succeeded(submit(QUICK)).pk}/").json()
    assert second["worker"].startswith("wb@") and second["reserved_workers"] == [second["worker"]]
    assert second["assigned_devices"] == {second["worker"]: [0, 1]}
    assert not Job.objects.get(pk=second["id"]).events.filter(type="log", data__text__contains="shares").exists()
    # a job of one device too: wa's free slot has no free device, wb's has two
    third = api.get(f"/api/jobs/{succeeded(submit(QUICK, devices=1)).pk}/").json()
    assert third["worker"] == second["worker"] and third["reserved_workers"] == [third["worker"]]
    assert not Job.objects.get(pk=third["id"]).events.filter(type="log", data__text__contains="shares").exists()
    assert api.post(f"/api/jobs/{first}/cancel/").status_code == 202
    wait_for_status(first, "cancelled")
