"""The synthetic DNA problem built from its DnaTask params: motifs and roles, the generator HMM, the
calibrated true activity, and the generated data sets (labelled halves for the two oracles, a reference
set of natural sequences).

Everything is a deterministic function of the DnaTask params, so a model.json that records the task
lets any later job rebuild the same ground truth.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np

from ml.dna import activity, hmm
from ml.dna.params import DnaTask

DEFAULT_MOTIFS = ["TTGACTCAG", "GGATAAGCA", "TTGCGCAAT", "TGTTTACTTA", "CACGTGAC", "GGGGCGGGGC"]
DEFAULT_ROLES = ["activator", "activator", "activator", "pioneer", "repressor", "repressor"]


def default_roles(n: int) -> list[str]:
    """First half (rounded up) activators, then one pioneer, the rest repressors; 6 motifs -> DEFAULT_ROLES."""
    n_act = (n + 1) // 2
    return (["activator"] * n_act + ["pioneer"] + ["repressor"] * n)[:n]


@dataclass
class Problem:
    params: DnaTask
    motifs: list
    roles: list
    hmm: hmm.Hmm
    offset: float

    @property
    def length(self):
        return self.params.length

    def sample_natural(self, n, seed):
        return hmm.sample(self.hmm, n, self.length, seed)

    def log_likelihood(self, x):
        return hmm.log_likelihood(self.hmm, x)

    def true_activity(self, x):
        return activity.true_activity(x, self.motifs, self.roles, self.offset)

    def accessible(self, x):
        return activity.accessible(x, self.motifs, self.roles)

    def labelled(self, split: int):
        """(x, activity label, accessibility label) of one half of the generated data; halves are
        disjoint by index, like the paper's chromosome split."""
        x, y, acc = _labelled(self.key())
        half = len(x) // 2
        sl = slice(0, half) if split == 0 else slice(half, None)
        return x[sl], y[sl], acc[sl]

    def reference_top(self):
        """Top `top_fraction` of a held-out natural set by true activity (at least 20 sequences)."""
        return _reference_top(self.key())

    def key(self) -> str:
        return json.dumps(self.params.model_dump(), sort_keys=True)


def build(task) -> Problem:
    """From a DnaTask, a dict, or None (defaults)."""
    if isinstance(task, Problem):
        return task
    p = task if isinstance(task, DnaTask) else DnaTask.model_validate(task or {})
    return _build(json.dumps(p.model_dump(), sort_keys=True))


@functools.lru_cache(maxsize=8)
def _build(key: str) -> Problem:
    p = DnaTask.model_validate(json.loads(key))
    motifs = [m.upper() for m in (p.motifs or DEFAULT_MOTIFS)]
    if any(set(m) - set("ACGT") or not 4 <= len(m) <= 20 for m in motifs):
        raise ValueError("motifs must be ACGT strings of 4-20 bases")
    roles = list(p.roles) if p.roles else default_roles(len(motifs))
    if len(roles) != len(motifs):
        raise ValueError("give one role per motif")
    acts = [i for i, r in enumerate(roles) if r == "activator"]
    pair = (acts[0], acts[1]) if len(acts) >= 2 else None
    h = hmm.build_hmm(motifs, pair, p.sites_per_seq, p.length, p.consensus_prob, p.pair_prob, p.gc, p.cpg_depletion, p.markov)
    # calibration: natural median of f* is 0 (mirrors Gosai et al.'s centred activities)
    calib = hmm.sample(h, 4000, p.length, seed=p.seed * 7919 + 1)
    offset = float(np.median(activity.raw_activity(calib, motifs, roles).numpy()))
    return Problem(p, motifs, roles, h, offset)


@functools.lru_cache(maxsize=4)
def _labelled(key: str):
    t = _build(key)
    x = t.sample_natural(t.params.n_data, seed=t.params.seed * 7919 + 2)
    f = t.true_activity(x)
    rng = np.random.default_rng(t.params.seed * 7919 + 3)
    y = f + t.params.label_noise * rng.standard_normal(len(f))
    return x, y.astype(np.float32), t.accessible(x).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _reference_top(key: str):
    t = _build(key)
    x = t.sample_natural(t.params.n_reference, seed=t.params.seed * 7919 + 4)
    f = t.true_activity(x)
    k = max(20, int(round(t.params.top_fraction * len(x))))
    top = np.argsort(-f)[:k]
    return x[top], f[top], f
