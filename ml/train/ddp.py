"""Multi-process training with torch DistributedDataParallel (Li et al. 2020, "PyTorch Distributed").

One node: rank 0 runs in the calling process with the job's reporter; ranks 1..W-1 are spawned
processes with a silent reporter. Several nodes (`nodes` > 1, ml/train/cluster.py): each node runs
W / nodes ranks the same way, global rank = node_rank * per_node + local rank, all of them joined by one
c10d TCPStore that node 0 hosts; only global rank 0 (node 0's calling process) reports, checkpoints and
writes the model, the others only compute. Backend: NCCL with one GPU per local rank when the node has
W / nodes GPUs, gloo on CPU. The global batch is split by rank (see objectives.py), so W processes
follow the same loss curve as one process with the same global batch, up to float summation order.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ml.train.cluster import Cluster, PeerLost, is_transport_error, local_cluster

__all__ = ["Cluster", "PeerLost", "SilentReporter", "join", "launch"]


class SilentReporter:
    def __init__(self, out_dir, attempt=1):
        self.out_dir, self.attempt = Path(out_dir), attempt

    def progress(self, done, total): ...

    def metric(self, name, value, step): ...

    def log(self, text): ...

    def artifact(self, name, path, kind): ...

    def should_stop(self):
        return False


def _device_for(local_rank, params):
    from ml.device import resolve_device

    dev = resolve_device(params.device)
    return torch.device("cuda", local_rank) if dev.type == "cuda" else dev


def _setup(rank, world, local_rank, cluster: Cluster, params, store=None):
    backend = "nccl" if _device_for(local_rank, params).type == "cuda" else "gloo"
    # a lost peer must end the job, not hang it: every collective gives up after this (gloo honours it,
    # NCCL through its watchdog)
    timeout = timedelta(seconds=cluster.timeout_s)
    if store is None:
        store = dist.TCPStore(cluster.master_addr, cluster.master_port, is_master=False, timeout=timeout)
    dist.init_process_group(backend, store=dist.PrefixStore("pg", store), rank=rank, world_size=world,
                            timeout=timeout)


def _worker(local_rank, params_dict, cluster, out_dir, attempt, trained=None):
    from ml.train.loop import train
    from ml.train.params import Params

    params = Params.model_validate(params_dict)
    per_node = params.world_size // cluster.nodes
    torch.set_num_threads(max(1, torch.get_num_threads() // per_node))
    rank = cluster.node_rank * per_node + local_rank
    _setup(rank, params.world_size, local_rank, cluster, params)
    try:
        train(params, SilentReporter(out_dir, attempt), rank, params.world_size, _device_for(local_rank, params))
        if trained is not None:
            trained.value = 1
    finally:
        dist.destroy_process_group()


def _check(params, cluster: Cluster):
    world, nodes = params.world_size, cluster.nodes  # batch_size splits over world: the params check it
    per_node = world // nodes
    if _device_for(0, params).type == "cuda" and torch.cuda.device_count() < per_node:
        raise ValueError(f"world_size {world} over {nodes} node(s) needs {per_node} GPUs per node, this worker has "
                         f"{torch.cuda.device_count()}")
    return per_node


def _run_node(params, reporter, cluster: Cluster, store=None):
    """This node's ranks: local rank 0 here (with `reporter`), 1.. spawned. Returns rank 0's result."""
    from ml.train.loop import train

    per_node = _check(params, cluster)
    ctx = mp.get_context("spawn")
    # each spawned rank says when its training is done: what it does after (its process group's and the
    # interpreter's teardown) cannot change the result, and a crash there must not fail a finished job
    trained = [ctx.Value("b", 0) for _ in range(1, per_node)]
    procs = [ctx.Process(target=_worker, args=(r, params.model_dump(), cluster, str(reporter.out_dir),
                                               reporter.attempt, trained[r - 1]), daemon=True)
             for r in range(1, per_node)]
    for proc in procs:
        proc.start()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // per_node))
    rank = cluster.node_rank * per_node
    try:
        _setup(rank, params.world_size, 0, cluster, params, store)
        try:
            result = train(params, reporter, rank, params.world_size, _device_for(0, params))
        finally:
            dist.destroy_process_group()
    except RuntimeError as exc:
        if cluster.nodes == 1 or isinstance(exc, PeerLost) or not is_transport_error(exc):
            raise
        raise cluster.lost(exc) from exc
    finally:
        torch.set_num_threads(threads)
        for proc in procs:
            proc.join(timeout=60)
    bad = [proc.exitcode for proc, done in zip(procs, trained) if proc.exitcode != 0 and not done.value]
    if bad:
        raise RuntimeError(f"DDP worker(s) failed with exit codes {bad}")
    for r, (proc, _done) in enumerate(zip(procs, trained), start=1):
        if proc.exitcode != 0:
            reporter.log(f"rank {rank + r} ended with exit code {proc.exitcode} after its training was done "
                         f"(in its teardown): the result is complete")
    return result


def launch(params, reporter, cluster: Cluster | None = None):
    """Node 0 (or the only node): trains with `reporter`. `cluster` (or `reporter.cluster`, set by the job
    system once the other nodes joined) says where they are; without one, nodes must be 1."""
    cluster = cluster or getattr(reporter, "cluster", None)
    if cluster is None:
        if params.nodes > 1:
            raise ValueError(f"nodes {params.nodes}: a multi-node training runs on the lab's workers, which reserve "
                             f"the nodes; in a terminal, use nodes 1")
        return _run_node(params, reporter, local_cluster())
    return _run_node(params, reporter, cluster, cluster.store)


def join(params, cluster: Cluster, out_dir):
    """A node other than 0: computes its ranks' share of each step, reports and writes nothing."""
    os.makedirs(out_dir, exist_ok=True)
    try:
        _run_node(params, SilentReporter(out_dir), cluster, cluster.store)
    except Exception as exc:
        if not is_transport_error(exc):  # this node's own fault: node 0 says it instead of "node lost"
            cluster.report_error(f"{type(exc).__name__}: {exc}")
        raise
