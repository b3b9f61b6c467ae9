"""What a `train` job takes from its worker (ml/footprint.py).

Every one of the W = world_size DDP processes (`ml.train.ddp`) builds its own data, network and
optimiser, so memory is W times one process's. With w = width, L = depth, b = batch_size / W per
process, S positions per example (1 for 2-D toys, 64 pixels for digits, `length` bases for DNA) and
D numbers per example (2, 64, or 4 x length one-hot):

    per process = 24 (2 L + 2) w^2          weights, grads, two Adam moments, EMA, a teacher copy
                                            (4 bytes each) of (2 L + 2) w x w layers (MLP / UNet / conv)
                + 32 b S w L                activations kept for backward (two layers per block,
                                            4 saved tensors of 4 bytes)
                + 8 (n_data + n_reference) length        DNA only: the generated int64 sequences
                + 8 reflow_pairs D          reflow / distill / slimflow: (noise, teacher output) pairs
                + 1 GB runtime
    processes   = world_size
    files       = ceil((steps / eval_every + 1) / 2) previews (continuous objectives: every other evaluation,
                  and the last)
                + 8 (checkpoint, model, samples, their json)
"""
from __future__ import annotations

from ml.footprint import Footprint, Term, ceil_div, term
from ml.train.params import ContinuousParams, Params

PAIRS_OBJECTIVES = ("reflow", "distill", "slimflow")
ORACLE_DEPTH = 2


def _shape(p: Params) -> tuple[int, int]:
    """(positions S, numbers D) of one example."""
    if p.data.type == "dna":
        return p.data.length, 4 * p.data.length
    if p.data.type == "digits":
        return 64, 64
    return 1, 2


def _depth(p) -> tuple[str, int]:
    """(the field that sets it, L); the oracle's CNN is fixed: 3 convolutions and a 2-layer head, L = 2."""
    return ("depth", p.depth) if hasattr(p, "depth") else ("", ORACLE_DEPTH)


def footprint(p: Params) -> Footprint:
    world, (positions, numbers) = getattr(p, "world_size", 1), _shape(p)
    (depth_field, depth) = _depth(p)
    per_rank = ceil_div(p.batch_size, world)
    memory = [
        term(("world_size", "world_size", world), ("layers (2 depth + 2)", depth_field, 2 * depth + 2),
             ("width^2", "width", p.width ** 2), unit=24, unit_text="24 bytes"),
        term(("world_size", "world_size", world), ("batch per process", "batch_size", per_rank),
             ("positions", "data.length" if p.data.type == "dna" else "", positions), ("width", "width", p.width),
             ("depth", depth_field, depth), unit=32, unit_text="32 bytes"),
    ]
    if p.data.type == "dna":
        memory.append(term(("world_size", "world_size", world),
                           ("sequences", "data.n_data", p.data.n_data + p.data.n_reference),
                           ("length", "data.length", p.data.length), unit=8, unit_text="8 bytes"))
    if p.objective in PAIRS_OBJECTIVES:
        memory.append(term(("world_size", "world_size", world), ("reflow_pairs", "reflow_pairs", p.reflow_pairs),
                           ("numbers per example", "", numbers), unit=8, unit_text="8 bytes"))
    files = [Term(8, "8 checkpoint and model files", ())]
    if isinstance(p, ContinuousParams):  # the DNA objectives draw no previews
        previews = ceil_div(p.steps // p.eval_every + 1, 2)
        files.insert(0, Term(previews, f"steps {p.steps} / eval_every {p.eval_every} / 2 = {previews} previews",
                             ("steps", "eval_every")))
    return Footprint(memory, Term(world, f"world_size {world}", ("world_size",) if hasattr(p, "world_size") else ()), files)
