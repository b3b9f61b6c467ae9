"""The rendezvous of a multi-node training (ml/train/cluster.py): node 0 waits for its peers with a
deadline, a node past the last rank leaves, a terminal run cannot span nodes, and a peer whose node 0 dies
stops at once."""
import io
import os
import signal
import threading
import time

import pytest
import torch.multiprocessing as mp

from ml.reporting import PrintReporter
from ml.train import run
from ml.train.ddp import PeerLost, join, launch
from ml.train.params import Params
from ml.train.cluster import NodesMissing, host, join_cluster, take_rank


def test_nodes_that_never_come_end_the_wait_with_a_sentence():
    cluster = host("127.0.0.1", 3, "node0", timeout_s=5)
    with pytest.raises(NodesMissing, match=r"^0 of the 2 other node\(s\) joined within 1 s \(a 3-node training needs "
                                           r"3 live workers on its queue"):
        cluster.wait_for_nodes(1.0, poll_s=0.2)


def test_a_node_past_the_last_rank_leaves_and_node_0_learns_who_came():
    cluster = host("127.0.0.1", 2, "node0", timeout_s=5)
    joined = {}
    peer = threading.Thread(target=lambda: joined.update(first=join_cluster("127.0.0.1", cluster.master_port, 2,
                                                                            "peer-a", 5, join_s=5)))
    peer.start()
    invites = []
    cluster.wait_for_nodes(5.0, invite=lambda: invites.append(1), poll_s=0.1)
    peer.join(5)
    assert joined["first"].node_rank == 1 and cluster.names == {0: "node0", 1: "peer-a"}
    assert invites  # asked to invite at least once before the peer came
    assert join_cluster("127.0.0.1", cluster.master_port, 2, "peer-b", 5, join_s=5) is None


def test_a_terminal_run_cannot_span_nodes(reporter_factory, tiny):
    with pytest.raises(ValueError, match="a multi-node training runs on the lab's workers"):
        run({**tiny, "steps": 1, "world_size": 2, "nodes": 2}, reporter_factory())


def test_a_node_that_cannot_take_part_fails_the_wait_with_its_own_sentence():
    cluster = host("127.0.0.1", 2, "node0", timeout_s=5)
    peer = take_rank("127.0.0.1", cluster.master_port, 2, "peer-a", 5, join_s=5)
    peer.report_error("FileNotFoundError: data.npy")
    peer.arrive()
    with pytest.raises(RuntimeError, match=r"^node 1 \(peer-a\) failed: FileNotFoundError: data.npy$"):
        cluster.wait_for_nodes(5.0, poll_s=0.1)
    assert peer.wait_go(5) is False  # told to leave, not left waiting


class _Started(PrintReporter):
    """Node 0's reporter: sets `event` once 5 steps are done."""

    def __init__(self, out_dir, event):
        super().__init__(out_dir, stream=io.StringIO(), quiet_progress=True)
        self.event = event

    def progress(self, done, total):
        super().progress(done, total)
        if done >= 5:
            self.event.set()


def _node0(params, out_dir, ports, started):
    cluster = host("127.0.0.1", 2, "node0", timeout_s=30)
    ports.put(cluster.master_port)
    cluster.wait_for_nodes(30)
    launch(Params.model_validate(params), _Started(out_dir, started), cluster)


def test_a_peer_whose_node_0_dies_stops_with_peer_lost_instead_of_waiting(tiny, tmp_path):
    params = {**tiny, "steps": 100_000, "batch_size": 32, "world_size": 2, "nodes": 2, "device": "cpu"}
    ctx = mp.get_context("spawn")
    ports, started = ctx.Queue(), ctx.Event()
    node0 = ctx.Process(target=_node0, args=(params, str(tmp_path / "node0"), ports, started), daemon=True)
    node0.start()
    cluster = join_cluster("127.0.0.1", ports.get(timeout=60), 2, "peer", timeout_s=30, join_s=30)
    killer = threading.Thread(target=lambda: started.wait(60) and os.kill(node0.pid, signal.SIGKILL))
    killer.start()
    t0 = time.monotonic()
    with pytest.raises(PeerLost, match=r"^node 0 \(node0\) of the 2-node training stopped answering"):
        join(Params.model_validate(params), cluster, tmp_path / "peer")
    killer.join()
    assert started.is_set()
    # the connection closes with the process: the peer learns it at once, not after the 30 s timeout
    assert time.monotonic() - t0 < 25
