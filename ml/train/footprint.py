"""What a `train` job takes from its worker (ml/footprint.py).

Every one of the P = world_size / nodes DDP processes of a worker (`ml.train.ddp`) builds its own data,
network and optimiser, so a worker's memory is P times one process's. With w = width, L = depth,
b = batch_size / world_size per process, S positions per example (1 for 2-D toys, 64 pixels for digits, `length` bases for DNA) and
D numbers per example (2, 64, or 4 x length one-hot):

    per process = 24 (2 L + 2) w^2          weights, grads, two Adam moments, EMA, a teacher copy
                                            (4 bytes each) of (2 L + 2) w x w layers (MLP / UNet / conv)
                + 32 b S w L                activations kept for backward (two layers per block,
                                            4 saved tensors of 4 bytes)
                + 8 (n_data + n_reference) length        DNA only: the generated int64 sequences
                + 8 reflow_pairs D          reflow / distill / slimflow: (noise, teacher output) pairs
                + 1 GB runtime
    processes   = world_size / nodes        (per worker: each of the `nodes` workers runs its share)
    files       = ceil((steps / eval_every + 1) / 2) previews (continuous objectives: every other evaluation,
                  and the last)
                + 8 (checkpoint, model, samples, their json)

Data and models of your own are priced from their headers (ml/inputs.py; nothing is loaded):
- a file of data (an .npy's header, a zip of PNGs' central directory and first image) of N samples of D
  values (S = H W positions for images on the lab UNet, 1 for vectors and the MLP) adds, per process,

                + 8 N D                 the float32 array clipped to [-1, 1] and its train / held-out copies
                                        (ml/data/__init__.py's make_dataset: 2 x 4 bytes)

- a diffusers UNet continued (a vp_* objective given a model; P its parameters, W its weights file's bytes,
  F the values its resnets produce per image, ml/sample/footprint.py's `unet_values`) takes, per process,
  the place of the lab network's two terms:

                  20 P + W              weights, grads, two Adam moments, EMA (4 bytes each), and the file's
                                        tensors as read
                + 48 b F                activations kept for backward and their gradients (measured 46 bytes
                                        per value on a 6 M-parameter UNet2DModel at 64 x 64)
                + 64 b A                the attention layers' tensors kept for backward and their gradients, A
                                        the values their inputs hold per image (ml/sample/footprint.py's
                                        `attention_values`, summed): 8 tensors of 4 bytes per value (the group
                                        norm's output, q, k, v, the fused kernel's output, its reshaped copy,
                                        the projection and the residual sum), each with its gradient (measured
                                        61 bytes on a UNet2DModel of 32 channels at 32 x 32); no S x S map, which
                                        the fused attention kernels never hold (ml/sample/footprint.py)

- a FASTA file of your own (`data` of type fasta: N records of L bases on l lines, T bytes; ml/dna/records.py
  reads it whole, then encodes it) sets S = L and adds

                + 4 T                   the file read, decoded to a str, split into lines, each upper-cased
                + 128 l                 a Python str per line and its upper-cased copy (CPython's 49-byte
                                        header, rounded by its allocator), and the lists that hold them
                + N L                   the int8 codes kept
  masked_diffusion:
                + 8 N L                 the int64 training and held-out sequences (ml/dna/records.py's pretraining)
                + 32 N_h L              the held-out N_h = holdout N sequences' int64 3-mer codes at the last
                                        evaluation (ml/dna/metrics.py's kmer_counts)
                + 24 min(2048, N_h) L w their held-out NELBO, a forward pass without gradients (measured 20
                                        bytes per value of the width-w network)
  oracle, with a CSV of labels of R rows (M = min(R, N) labelled records) and T_c bytes:
                + 28 M L                a half's int64 codes, their one-hot (int64) and its float32 copy
                                        (ml/dna/train_job.py's oracle_setup: 4 + 16 + 8 bytes per base of M / 2)
                + 4 T_c                 the CSV read, decoded and read through a StringIO

  A stored upload gives N, L and l from what its upload recorded (ml/inputs.py's from_summary); these
  terms were checked against the peak resident set of such jobs (tests/ml/dna/test_own_footprint.py).
"""
from __future__ import annotations

import math

from ml.footprint import Footprint, Term, ceil_div, term
from ml.inputs import DataFile
from ml.sample.footprint import unet_sizes, unet_weights
from ml.train import diffusers_unet
from ml.train.params import ContinuousParams, Params

PAIRS_OBJECTIVES = ("reflow", "distill", "slimflow")
ORACLE_DEPTH = 2
TRAIN_BYTES = 48  # per UNet value, with gradients (measured 45.6)
ATTENTION_TRAIN_BYTES = 64  # per attention value, with gradients (measured 61)


def _file_shape(inputs: dict) -> tuple | None:
    """The data file's [N, ...] shape where its header says it."""
    data = inputs.get("data")
    return data.shape if isinstance(data, DataFile) and data.shape else None


def _fasta(p: Params, inputs: dict) -> DataFile | None:
    data = inputs.get("data")
    return data if p.data.type == "fasta" and isinstance(data, DataFile) and data.format == "fasta" else None


def _shape(p: Params, inputs: dict) -> tuple[int, int]:
    """(positions S, numbers D) of one example."""
    fasta = _fasta(p, inputs)
    if fasta is not None:
        return fasta.shape[1], 4 * fasta.shape[1]
    shape = _file_shape(inputs) if p.data.type == "file" else None
    if shape is not None:  # the lab UNet (arch unet, or auto on images) runs on H W positions, the MLP on one
        images = len(shape) == 4 and getattr(p, "arch", "auto") != "mlp"
        return (shape[2] * shape[3] if images else 1), math.prod(shape[1:])
    if p.data.type == "dna":
        return p.data.length, 4 * p.data.length
    if p.data.type == "digits":
        return 64, 64
    return 1, 2


def _depth(p) -> tuple[str, int]:
    """(the field that sets it, L); the oracle's CNN is fixed: 3 convolutions and a 2-layer head, L = 2."""
    return ("depth", p.depth) if hasattr(p, "depth") else ("", ORACLE_DEPTH)


def fasta_terms(p, fasta: DataFile, labels, procs) -> list[Term]:
    """The module docstring's FASTA terms: reading the file, then what the objective builds of its records."""
    (n, length), held = fasta.shape, min(max(1, round(p.data.holdout * fasta.shape[0])), fasta.shape[0] - 1)
    bases = ("length", "data", length)
    terms = [term(procs, ("FASTA bytes", "data", fasta.size), unit=4,
                  unit_text="4 bytes (read, decoded, split into lines, upper-cased)"),
             term(procs, ("FASTA lines", "data", fasta.lines or 0), unit=128, unit_text="128 bytes (a str each, upper-cased)")]
    if p.objective == "masked_diffusion":
        return terms + [
            term(procs, ("sequences", "data", n), bases, unit=9, unit_text="9 bytes (int8 codes, int64 copies)"),
            term(procs, ("held-out sequences", "data.holdout", held), bases, unit=32,
                 unit_text="32 bytes (int64 3-mer codes)"),
            term(procs, ("held-out NELBO sequences", "data.holdout", min(2048, held)), bases,
                 ("width", "width", p.width), unit=24, unit_text="24 bytes (a forward pass)")]
    terms.append(term(procs, ("sequences", "data", n), bases, unit_text="1 byte (int8 codes)"))
    if isinstance(labels, DataFile) and labels.format == "csv":
        terms += [term(procs, ("labelled", "data.labels", min(labels.shape[0], n)), bases, unit=28,
                       unit_text="28 bytes (a half's int64 codes, one-hot int64 and float32)"),
                  term(procs, ("CSV bytes", "data.labels", labels.size), unit=4, unit_text="4 bytes (read, decoded)")]
    return terms


def footprint(p: Params, inputs: dict | None = None) -> Footprint:
    inputs = inputs or {}
    world, nodes, (positions, numbers) = getattr(p, "world_size", 1), getattr(p, "nodes", 1), _shape(p, inputs)
    (depth_field, depth) = _depth(p)
    per_rank = ceil_div(p.batch_size, world)
    # a worker holds its node's share of the processes (ml/train/cluster.py): world_size / nodes
    here = world // nodes
    procs = ("world_size", "world_size", world) if nodes == 1 else ("processes per node", "world_size", here)
    memory = [
        term(procs, ("layers (2 depth + 2)", depth_field, 2 * depth + 2),
             ("width^2", "width", p.width ** 2), unit=24, unit_text="24 bytes"),
        term(procs, ("batch per process", "batch_size", per_rank),
             ("positions", {"dna": "data.length", "fasta": "data"}.get(p.data.type, ""), positions),
             ("width", "width", p.width),
             ("depth", depth_field, depth), unit=32, unit_text="32 bytes"),
    ]
    if isinstance(p, ContinuousParams) and diffusers_unet.continues(p):
        # the UNet's own architecture, not width and depth: priced once its headers are known
        unet = unet_sizes(inputs.get("model"))
        memory = [] if unet is None else [
            *unet_weights(unet, 20, "20 bytes (weights, grads, Adam moments, EMA)", procs),
            term(procs, ("batch per process", "batch_size", per_rank),
                 ("UNet values per image", "model", unet["values"]), unit=TRAIN_BYTES,
                 unit_text=f"{TRAIN_BYTES} bytes")]
        if unet and unet["attention"]:
            memory.append(term(procs, ("batch per process", "batch_size", per_rank),
                               ("attention values per image", "model", sum(unet["attention"])),
                               unit=ATTENTION_TRAIN_BYTES, unit_text=f"{ATTENTION_TRAIN_BYTES} bytes"))
    shape = _file_shape(inputs) if p.data.type == "file" else None
    if shape is not None:
        memory.append(term(procs, ("samples", "data", shape[0]), ("values per sample", "data", math.prod(shape[1:])),
                           unit=8, unit_text="8 bytes (float32, clipped, and its split)"))
    if p.data.type == "dna":
        memory.append(term(procs,
                           ("sequences", "data.n_data", p.data.n_data + p.data.n_reference),
                           ("length", "data.length", p.data.length), unit=8, unit_text="8 bytes"))
    fasta = _fasta(p, inputs)
    if fasta is not None:
        memory += fasta_terms(p, fasta, inputs.get("data.labels"), procs)
    if p.objective in PAIRS_OBJECTIVES:
        memory.append(term(procs, ("reflow_pairs", "reflow_pairs", p.reflow_pairs),
                           ("numbers per example", "", numbers), unit=8, unit_text="8 bytes"))
    files = [Term(8, "8 checkpoint and model files", ())]
    if isinstance(p, ContinuousParams):  # the DNA objectives draw no previews
        previews = ceil_div(p.steps // p.eval_every + 1, 2)
        files.insert(0, Term(previews, f"steps {p.steps} / eval_every {p.eval_every} / 2 = {previews} previews",
                             ("steps", "eval_every")))
    text = f"world_size {world}" if nodes == 1 else f"world_size {world} / nodes {nodes}"
    return Footprint(memory, Term(here, text, ("world_size",) if hasattr(p, "world_size") else ()), files)
