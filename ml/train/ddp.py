"""Multi-process training with torch DistributedDataParallel (Li et al. 2020, "PyTorch Distributed").

Rank 0 runs in the calling process with the job's reporter; ranks 1..W-1 are spawned processes
with a silent reporter. Backend: NCCL with one GPU per rank when the worker has W GPUs, gloo on CPU.
The global batch is split by rank (see objectives.py), so W processes follow the same loss curve
as one process with the same global batch, up to float summation order.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


class SilentReporter:
    def __init__(self, out_dir, attempt=1):
        self.out_dir, self.attempt = Path(out_dir), attempt

    def progress(self, done, total): ...

    def metric(self, name, value, step): ...

    def log(self, text): ...

    def artifact(self, name, path, kind): ...

    def should_stop(self):
        return False


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _device_for(rank, params):
    from ml.device import resolve_device

    dev = resolve_device(params.device)
    return torch.device("cuda", rank) if dev.type == "cuda" else dev


def _setup(rank, world, port, params):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    backend = "nccl" if _device_for(rank, params).type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=rank, world_size=world)


def _worker(rank, world, port, params_dict, out_dir, attempt):
    from ml.train.loop import train
    from ml.train.params import Params

    params = Params.model_validate(params_dict)
    torch.set_num_threads(max(1, torch.get_num_threads() // world))
    _setup(rank, world, port, params)
    try:
        train(params, SilentReporter(out_dir, attempt), rank, world, _device_for(rank, params))
    finally:
        dist.destroy_process_group()


def launch(params, reporter):
    from ml.train.loop import train

    world = params.world_size
    if params.batch_size % world:
        raise ValueError(f"batch_size {params.batch_size} must be divisible by world_size {world}")
    dev = _device_for(0, params)
    if dev.type == "cuda" and torch.cuda.device_count() < world:
        raise ValueError(f"world_size {world} needs {world} GPUs, this worker has {torch.cuda.device_count()}")
    port = _free_port()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(r, world, port, params.model_dump(), str(reporter.out_dir),
                                               reporter.attempt), daemon=True) for r in range(1, world)]
    for proc in procs:
        proc.start()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // world))
    _setup(0, world, port, params)
    try:
        result = train(params, reporter, 0, world, dev)
    finally:
        dist.destroy_process_group()
        torch.set_num_threads(threads)
        for proc in procs:
            proc.join(timeout=60)
    bad = [proc.exitcode for proc in procs if proc.exitcode != 0]
    if bad:
        raise RuntimeError(f"DDP worker(s) failed with exit codes {bad}")
    return result
