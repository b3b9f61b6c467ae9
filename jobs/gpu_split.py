"""One DDP process per GPU: how a GPU training that does not say so asks for its devices and nodes
(docs/multinode.md, "On GPUs").

A `train` job whose queue's live workers announce GPUs, posted without `devices`, asks for its share of
`world_size` on each node (`world_size / nodes`); posted without `nodes` either, a `world_size` larger
than the most GPUs one live worker of the queue has is split over the fewest workers that hold it, each
running the same number of processes. A job that gives both, one pinned to the CPU, a single-process one
or one whose queue has no GPU worker live is left as posted (gloo runs any number of processes on a CPU).
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_NODES = 16  # train's `nodes` bound


@dataclass(frozen=True)
class Split:
    devices: int  # on each node
    nodes: int


def split(world_size: int, nodes: int | None, most_gpus: int) -> Split | None:
    """`nodes` None: not given. None when there is nothing to fill in."""
    if world_size <= 1 or most_gpus <= 0:
        return None
    if nodes is not None:
        return Split(world_size // nodes, nodes)
    for n in range(1, MAX_NODES + 1):
        if world_size % n == 0 and world_size // n <= most_gpus:
            return Split(world_size // n, n)
    return None  # more than 16 workers' worth: the devices check names the field
