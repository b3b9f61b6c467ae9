"""What a `quantize` job takes from its worker (ml/footprint.py).

A builtin benchmark model (under a million weights) or a lab model (its size admitted with the `train` job
that made it), its quantized copy and n_calibration inputs need a few MB beside the runtime:

    memory = 1 GB runtime
    files  = 6 (model, quantized model, report and their json)

A transformers causal LM of your own is priced from its files' headers (ml/inputs.py: the safetensors
headers and config.json, nothing loaded). It streams block by block (ml/quantize/hf_blocks.py), so what it
holds is one block in fp32, not the model: with P_out the parameters outside the decoder blocks, P_blk those
of the largest block, P_blocks those of all blocks, I the widest matrix dimension of a block (the widest
layer input, its MLP's intermediate size), h the hidden size and V the vocabulary (config.json), n =
n_calibration, s = seq_len, T the calibration text's bytes:

    memory = 4 P_out                   the fp32 embeddings, final norm and head, loaded at once
           + 4 c P_blk                 the block at work in fp32 (c = 2 for decoupleQ's block stage: its fp copy)
           + P_blocks bits / 8         the packed codes of the blocks done (they stay for the perplexity after)
           + 8 h max(n s, T / 10)      a block's fp32 inputs and outputs over the calibration windows, or over
                                       the held-out tenth of the text (at most a token per byte) for the
                                       perplexity before, whichever is larger
           + 24 I^2                    H in float64, its damped copy and GPTQ's inverse factor
           + 64 s (V + I)              a batch of 8 windows: its logits and their log-softmax (4 + 4 bytes),
                                       and a layer's float64 input as H accumulates
           + 176 T                     the tokenizer's encoding of the whole text (measured: 173 bytes per
                                       byte with a 512-token byte-level BPE; larger vocabularies make fewer
                                       tokens per byte, so less)
           + 1 GB runtime
"""
from __future__ import annotations

import re
from collections import defaultdict

from ml.footprint import Footprint, Term, ceil_div, term
from ml.inputs import DataFile, ModelFiles
from ml.quantize.hf_runner import BATCH  # windows per forward
from ml.quantize.hf_text import HELD_OUT  # the fraction of the text held out
from ml.quantize.params import Params

TOKENIZER_BYTES = 176  # per byte of text: measured 173 for a 20 MB text (9.2 M tokens, 3.47 GB of encoding)
BLOCK = re.compile(r"^(.+?)\.(\d+)\.")
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model")


def lm_sizes(model: ModelFiles) -> dict | None:
    """The sizes the formula names, from the headers and config.json; None if the folder is not a transformers
    LM (a lab model has model.json)."""
    cfg = model.configs.get("config.json")
    tensors = model.under("")
    if cfg is None or "model.json" in model.configs or not tensors:
        return None
    # the decoder blocks: the dotted prefix followed by the most block indices (transformer.h.<i>., model.layers.<i>.)
    indices = defaultdict(set)
    for name in tensors:
        m = BLOCK.match(name)
        if m:
            indices[m.group(1)].add(int(m.group(2)))
    blocks = defaultdict(int)
    widest = 0
    if indices:
        prefix = max(indices, key=lambda k: len(indices[k]))
        for name, t in tensors.items():
            m = BLOCK.match(name)
            if m and m.group(1) == prefix:
                blocks[int(m.group(2))] += t.numel
                if len(t.shape) == 2:
                    widest = max(widest, *t.shape)
    total = sum(t.numel for t in tensors.values())
    hidden = next((int(cfg[k]) for k in HIDDEN_KEYS if isinstance(cfg.get(k), int)), 0)
    vocab = int(cfg["vocab_size"]) if isinstance(cfg.get("vocab_size"), int) else 0
    return {"outside": total - sum(blocks.values()), "block": max(blocks.values(), default=0),
            "blocks": sum(blocks.values()), "n_blocks": len(blocks), "widest": widest, "hidden": hidden,
            "vocab": vocab}


def lm_terms(p: Params, lm: dict, text_bytes: int) -> list[Term]:
    copies = 2 if p.method == "decoupleq" and p.decoupleq.block_stage else 1
    calib = p.n_calibration * p.seq_len
    held = ceil_div(text_bytes, round(1 / HELD_OUT))
    hidden = ("hidden", "model", lm["hidden"])
    what = "8 bytes (a block's fp32 inputs and outputs)"
    if held > calib:
        stream = term(("held-out tokens (calibration bytes / 10)", "calibration", held), hidden, unit=8, unit_text=what)
    else:
        stream = term(("n_calibration", "n_calibration", p.n_calibration), ("seq_len", "seq_len", p.seq_len), hidden,
                      unit=8, unit_text=what)
    out = [
        term(("parameters outside the blocks", "model", lm["outside"]), unit=4, unit_text="4 bytes (fp32)"),
        term(("parameters of the largest block", "model", lm["block"]), ("fp32 copies", "", copies),
             unit=4, unit_text="4 bytes"),
        Term(ceil_div(lm["blocks"] * p.bits, 8), f"parameters of the blocks {lm['blocks']} x bits {p.bits} / 8",
             ("model", "bits")),
        stream,
        term(("widest input^2", "model", lm["widest"] ** 2), unit=24, unit_text="8 bytes x 3 (H, damped, inverse)"),
        term(("windows", "", BATCH), ("seq_len", "seq_len", p.seq_len),
             ("vocab + widest input", "model", lm["vocab"] + lm["widest"]), unit=8, unit_text="8 bytes"),
    ]
    if text_bytes:
        out.append(term(("calibration bytes", "calibration", text_bytes), unit=TOKENIZER_BYTES,
                        unit_text=f"{TOKENIZER_BYTES} bytes (the tokenizer's encoding)"))
    return [t for t in out if t.value]


def footprint(p: Params, inputs: dict | None = None) -> Footprint:
    inputs = inputs or {}
    memory = []
    model = inputs.get("model")
    lm = lm_sizes(model) if isinstance(model, ModelFiles) else None
    if lm is not None:
        text = inputs.get("calibration")
        memory = lm_terms(p, lm, text.size if isinstance(text, DataFile) else 0)
    return Footprint(memory, Term(1, "1 process", ()), [Term(6, "6 model and report files", ())])
