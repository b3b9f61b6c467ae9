"""Calibration and evaluation windows of a text, and the perplexity a researcher recomputes with transformers.

The text is tokenized whole with the model's tokenizer; the last `HELD_OUT` of its tokens is the held-out
tail. Calibration windows are `n` random windows of `seq_len` tokens from the head (seeded); evaluation
windows tile the tail without overlap (a last partial window is dropped). Perplexity is
exp(mean next-token cross-entropy) over the seq_len - 1 predictions of every evaluation window: the mean of
`model(input_ids=w, labels=w).loss` over the windows, exponentiated (all windows have the same length).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

HELD_OUT = 0.1


class BadText(ValueError):
    pass


def read_text(path) -> str:
    p = Path(path)
    if p.is_dir():  # an artifact's folder: its one text file
        files = [f for f in p.iterdir() if f.is_file() and f.suffix in (".txt", ".text", ".md", "")]
        if len(files) != 1:
            raise BadText(f"calibration: {p} holds {len(files)} text files; give one")
        p = files[0]
    if not p.is_file():
        raise BadText(f"calibration: no file {p}")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadText(f"calibration: {p.name} is not UTF-8 text ({e.reason} at byte {e.start})") from e


def token_windows(tokenizer, text: str, seq_len: int, n_calibration: int, seed: int,
                  max_eval_windows: int | None = None):
    """(calibration windows [n, seq_len], evaluation windows [m, seq_len]) as token ids."""
    ids = torch.tensor(tokenizer(text, verbose=False)["input_ids"], dtype=torch.long)
    n_head = int(len(ids) * (1 - HELD_OUT))
    head, tail = ids[:n_head], ids[n_head:]
    m = len(tail) // seq_len
    if m < 1 or len(head) <= seq_len:
        need = math.ceil(seq_len / HELD_OUT)
        raise BadText(f"calibration: the text has {len(ids)} tokens; with seq_len {seq_len} it needs at least "
                      f"{need} (its last {HELD_OUT:.0%} must hold one evaluation window)")
    if max_eval_windows is not None:
        m = min(m, max_eval_windows)
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(head) - seq_len + 1, (n_calibration,), generator=gen)
    calib = torch.stack([head[s:s + seq_len] for s in starts.tolist()])
    return calib, tail[: m * seq_len].reshape(m, seq_len)


def window_losses(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of each window [b]."""
    ce = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
    return ce.reshape(ids.shape[0], -1).mean(1)


def perplexity(model, windows: torch.Tensor, batch: int = 16) -> float:
    losses = []
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            x = windows[i:i + batch]
            losses.append(window_losses(model(input_ids=x, use_cache=False).logits, x))
    return float(torch.exp(torch.cat(losses).double().mean()))
