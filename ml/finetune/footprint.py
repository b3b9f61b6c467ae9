"""What a `finetune` job takes from its worker (ml/footprint.py).

DRAKES backpropagates through the last K = truncate_steps reverse steps of batch_size trajectories,
so the graph it keeps grows as their product. The network and the sequence length are the pretrained
model's (admitted with the `train` job that made it); the estimate prices a position at the default
DNA model's (width 64, depth 10: 64 x 10 x 4 saved tensors x 4 bytes, about 10 KB) and the default
task's length of 200 bases:

    memory = batch_size x truncate_steps x 200 positions x 10 KB      (drakes only)
           + 8 n_samples x 200                                       the final sequences
           + 1 GB runtime
    files  = 8 (samples, sequences, checkpoint, model and their json)
"""
from __future__ import annotations

from ml.footprint import Footprint, Term, term
from ml.finetune.params import Params

POSITIONS = 200  # the default DNA task's length
POSITION_BYTES = 64 * 10 * 4 * 4  # the default masked-diffusion net: width 64 x depth 10 x 4 saved x 4 bytes


def footprint(p: Params) -> Footprint:
    memory = [term(("n_samples", "n_samples", p.n_samples), ("positions", "", POSITIONS), unit=8, unit_text="8 bytes")]
    if p.method == "drakes":
        memory.append(term(("batch_size", "batch_size", p.batch_size), ("truncate_steps", "truncate_steps", p.truncate_steps),
                           ("positions", "", POSITIONS), unit=POSITION_BYTES, unit_text=f"{POSITION_BYTES} bytes"))
    return Footprint(memory, Term(1, "1 process", ()), [Term(8, "8 result, checkpoint and model files", ())])
