"""A GPU training posted without `devices` asks for one GPU per DDP process on each node, and without
`nodes` either is split over the fewest live workers of its queue that hold it (jobs/gpu_split.py)."""
import pytest

from jobs import workers
from jobs.gpu_split import split

pytestmark = pytest.mark.django_db
QUEUE = "gpu-split"  # announced below, served by no worker process: the jobs stay queued


@pytest.fixture
def two_gpu_worker():
    workers.beat("split-test@host", [QUEUE], [{"index": "0"}, {"index": "1"}], concurrency=2)
    yield
    workers.forget("split-test@host")


def post(api, params, **top):
    return api.post("/api/jobs/", {"kind": "train", "params": {"batch_size": 48, **params}, "queue": QUEUE, **top},
                    format="json")


@pytest.mark.parametrize("world_size, devices, nodes", [(2, 2, 1), (4, 2, 2), (6, 2, 3), (1, 1, 1)])
def test_devices_and_nodes_follow_world_size_and_the_workers_gpus(api, two_gpu_worker, world_size, devices, nodes):
    r = post(api, {"world_size": world_size})
    assert r.status_code == 201, r.content
    assert (r.json()["devices"], r.json()["params"]["nodes"]) == (devices, nodes)


def test_what_the_job_says_is_kept(api, two_gpu_worker):
    given = post(api, {"world_size": 4}, devices=1)  # one GPU per node asked for: as posted
    assert given.status_code == 201 and (given.json()["devices"], given.json()["params"]["nodes"]) == (1, 1)
    on_cpu = post(api, {"world_size": 4, "device": "cpu"})  # gloo: any number of processes on one node
    assert on_cpu.status_code == 201 and (on_cpu.json()["devices"], on_cpu.json()["params"]["nodes"]) == (1, 1)
    one_node = post(api, {"world_size": 4, "nodes": 1})  # the nodes given: their share of GPUs each, too many here
    assert one_node.status_code == 400
    assert one_node.json() == {"devices": [f"needs 4 devices on one worker; the live workers of queue {QUEUE} "
                                           "have at most 2"]}


def test_a_batch_that_does_not_split_over_the_processes_is_a_400(api):
    r = post(api, {"world_size": 5})
    assert r.status_code == 400
    assert r.json() == {"params": {"batch_size": [
        "batch_size 48 does not split over world_size 5 processes: give a multiple of world_size"]}}


def test_split_without_a_gpu_worker_or_past_16_nodes_fills_nothing():
    assert split(8, None, 0) is None  # no GPU worker live on the queue: gloo, or it waits for one
    assert split(64, None, 2) is None  # 32 nodes of 2: more than `nodes` allows
    assert split(12, None, 8) == split(12, None, 6)  # 2 nodes of 6, the fewest nodes that hold it
    assert (split(12, None, 8).nodes, split(12, None, 8).devices) == (2, 6)
