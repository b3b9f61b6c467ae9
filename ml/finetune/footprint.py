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

Once the pretrained model's model.json is read (at submit time, with the headers of a job's own files:
ml/inputs.py), its own numbers replace the defaults: the length it records (its task's, or that of the FASTA
of your own it learned: ml/finetune/runner.py's recorded_length) and its network's width w and depth L, a
position then costing w x L x 4 saved tensors x 4 bytes.
"""
from __future__ import annotations

from ml.footprint import Footprint, Term, term
from ml.finetune.params import Params
from ml.finetune.runner import recorded_length
from ml.inputs import ModelFiles

POSITIONS = 200  # the default DNA task's length
POSITION_BYTES = 64 * 10 * 4 * 4  # the default masked-diffusion net: width 64 x depth 10 x 4 saved x 4 bytes


def pretrained(inputs: dict) -> tuple[tuple[str, str, int], int]:
    """(the positions factor, bytes per position) of the pretrained model: its model.json's where known."""
    model = inputs.get("model")
    cfg = model.configs.get("model.json", {}) if isinstance(model, ModelFiles) else {}
    length, arch = recorded_length(cfg), cfg.get("arch_kwargs") or {}
    if length is None or not {"width", "depth"} <= arch.keys():
        return ("positions", "", POSITIONS), POSITION_BYTES
    return ("positions", "model", length), int(arch["width"]) * int(arch["depth"]) * 4 * 4


def footprint(p: Params, inputs: dict | None = None) -> Footprint:
    positions, position_bytes = pretrained(inputs or {})
    memory = [term(("n_samples", "n_samples", p.n_samples), positions, unit=8, unit_text="8 bytes")]
    if p.method == "drakes":
        memory.append(term(("batch_size", "batch_size", p.batch_size), ("truncate_steps", "truncate_steps", p.truncate_steps),
                           positions, unit=position_bytes, unit_text=f"{position_bytes} bytes"))
    return Footprint(memory, Term(1, "1 process", ()), [Term(8, "8 result, checkpoint and model files", ())])
