"""The "natural enhancer" generator: an HMM with a motif grammar, so log p(x) is exact.

States (emissions are per state, so the forward algorithm gives the exact likelihood):
- 4 background states B_b that emit base b with probability 1; B_a -> B_b follows a first-order Markov
  chain with a given GC content and CpG depletion (gives a non-trivial 3-mer spectrum);
- for each motif and strand, a chain of len(motif) states emitting a PWM column (consensus with
  probability `consensus_prob`, the other three bases uniformly);
- spacer states after the first activator (forward strand) that lead to the second activator at
  spacing 10-14: the cooperative pair of the grammar.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

BASES = "ACGT"
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}
PAIR_SPACING = (10, 14)


def revcomp(s: str) -> str:
    return "".join(COMPLEMENT[c] for c in reversed(s))


@dataclass
class Hmm:
    init: np.ndarray    # [S] start distribution
    trans: np.ndarray   # [S, S] row-stochastic
    emit: np.ndarray    # [S, 4] row-stochastic


NEXT = [2, 0, 3, 1]   # A->G, C->A, G->T, T->C: the preferred successor of each base (a fixed dinucleotide bias)


def background_chain(gc: float, cpg_depletion: float, markov: float = 0.3) -> np.ndarray:
    """First-order Markov chain over ACGT: base composition ~gc mixed with a preferred successor (weight
    `markov`), P(G|C) scaled down (CpG depletion). Gives local structure a denoiser can learn."""
    comp = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    P = (1 - markov) * np.tile(comp, (4, 1)) + markov * np.eye(4)[NEXT]
    P[1, 2] *= cpg_depletion
    return P / P.sum(1, keepdims=True)


def build_hmm(motifs: list[str], pair: tuple[int, int] | None, sites_per_seq: float, length: int,
              consensus_prob: float, pair_prob: float, gc: float, cpg_depletion: float, markov: float = 0.3) -> Hmm:
    """`pair` = (i, j): motif i (forward) is followed by motif j (forward) with probability pair_prob."""
    P = background_chain(gc, cpg_depletion, markov)
    pi = np.linalg.matrix_power(P, 64)[0]          # stationary distribution of the background
    p_start = min(sites_per_seq / length, 0.5)      # per-position chance of opening a site
    chains = [(m, s, w) for m in motifs for s, w in ((m, 0), (revcomp(m), 1))]
    n_motif = sum(len(c) for c, _, _ in chains)
    lo, hi = PAIR_SPACING
    S = 4 + n_motif + (hi if pair is not None else 0)
    T = np.zeros((S, S))
    E = np.zeros((S, 4))
    E[:4] = np.eye(4)
    T[:4, :4] = (1 - p_start) * P
    starts, ends, pos = {}, {}, 4
    for k, (_, site, strand) in enumerate(chains):
        starts[k], ends[k] = pos, pos + len(site) - 1
        for j, c in enumerate(site):
            E[pos + j] = (1 - consensus_prob) / 3
            E[pos + j, BASES.index(c)] = consensus_prob
            if j + 1 < len(site):
                T[pos + j, pos + j + 1] = 1.0
        T[:4, pos] = p_start / len(chains)
        T[ends[k], :4] = pi
        pos += len(site)
    if pair is not None:
        first, second = 2 * pair[0], 2 * pair[1]    # forward-strand chains
        spacer = pos
        T[ends[first], :4] = (1 - pair_prob) * pi
        T[ends[first], spacer] = pair_prob
        for j in range(hi):                         # spacer state j has emitted j+1 bases
            E[spacer + j] = pi
            d = j + 1
            go = 1.0 / (hi - d + 1) if d >= lo else 0.0   # spacing uniform on [lo, hi]
            T[spacer + j, starts[second]] = go
            if d < hi:
                T[spacer + j, spacer + j + 1] = 1 - go
    init = np.zeros(S)
    init[:4] = pi
    return Hmm(init, T, E)


def sample(hmm: Hmm, n: int, length: int, seed: int) -> np.ndarray:
    """Ancestral sampling; returns token ids int64 [n, length]."""
    rng = np.random.default_rng(int(seed))
    cum_t, cum_e = np.cumsum(hmm.trans, 1), np.cumsum(hmm.emit, 1)

    def draw(cum_rows):  # inverse-CDF draw, one per row
        idx = (cum_rows < rng.random((len(cum_rows), 1))).sum(1)
        return np.minimum(idx, cum_rows.shape[1] - 1)   # guards float round-off at the top end

    state = draw(np.broadcast_to(np.cumsum(hmm.init), (n, len(hmm.init))))
    out = np.empty((n, length), dtype=np.int64)
    for i in range(length):
        out[:, i] = draw(cum_e[state])
        if i + 1 < length:
            state = draw(cum_t[state])
    return out


def log_likelihood(hmm: Hmm, x, batch: int = 4096) -> np.ndarray:
    """Exact log p(x) by the scaled forward algorithm (Rabiner 1989, eq. 92-93), float64; x [n, L] ids."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.long)
    trans, emit, init = (torch.from_numpy(a) for a in (hmm.trans, hmm.emit, hmm.init))
    out = []
    for xb in x.split(batch):
        alpha = init * emit[:, xb[:, 0]].T
        logp = torch.zeros(len(xb), dtype=torch.float64)
        for i in range(xb.shape[1]):
            if i > 0:
                alpha = (alpha @ trans) * emit[:, xb[:, i]].T
            c = alpha.sum(1)
            logp += torch.log(c)
            alpha = alpha / c[:, None]
        out.append(logp)
    return torch.cat(out).numpy()
