"""`nodes` of a `train` job (docs/multinode.md): world_size must split evenly over the nodes, only the
continuous objectives take it, and admission counts the processes of one worker, world_size / nodes."""
import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db


def post(api, params):
    return api.post("/api/jobs/", {"kind": "train", "params": params}, format="json")


def test_a_world_size_that_does_not_split_over_the_nodes_is_a_400_naming_nodes(api):
    r = post(api, {"world_size": 3, "nodes": 2, "batch_size": 96})
    assert r.status_code == 400, r.content
    assert r.json()["params"] == {"nodes": ["world_size 3 does not split over 2 nodes: give a world_size that is a "
                                            "multiple of nodes"]}
    assert Job.objects.count() == 0


def test_the_dna_objectives_take_no_nodes(api):
    r = post(api, {"objective": "oracle", "data": {"type": "dna", "length": 32}, "nodes": 2})
    assert r.status_code == 400, r.content
    assert list(r.json()["params"]) == ["nodes"]


def test_sixteen_processes_over_two_nodes_fit_workers_of_eight(api):
    # LAB_ADMIT_MAX_PROCESSES is 8 (a node of 8 GPUs): 16 on one worker is refused, 8 + 8 on two is not
    r = post(api, {"world_size": 16, "device": "cpu", "batch_size": 256})
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["processes"] == 16
    r = post(api, {"world_size": 16, "nodes": 2, "device": "cpu", "batch_size": 256})
    assert r.status_code == 201, r.content
    assert Job.objects.get().params["nodes"] == 2


def test_a_node_over_the_process_limit_is_a_400_that_says_per_node(api):
    r = post(api, {"world_size": 32, "nodes": 2, "device": "cpu", "batch_size": 256})
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["estimate"]["processes"] == 16
    assert ("needs 16 processes on the worker (world_size 32 / nodes 2), the limit is 8; lower world_size"
            in body["params"])
