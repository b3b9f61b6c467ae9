"""The hidden ground truth: true activity f*(x) and accessibility of a sequence.

Known to us, never to the oracles. Sites are soft-counted from
the fraction of consensus bases matched; activity = gated activator terms with saturating counts +
cooperative-pair bonus + pioneer term - repressors - penalties for crowding, GC outside [0.3, 0.6]
and homopolymer runs >= 7, squashed by 6 tanh(./6). The penalties and saturation are rarely hit by
natural sequences, so oracles learned from natural data extrapolate wrongly: reward hacking is
observable.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ml.dna.hmm import BASES, PAIR_SPACING, revcomp

ACT_WEIGHTS = (2.0, 1.5, 1.2)   # activator i (cycled)
PAIR_BONUS = 1.5
PIONEER_WEIGHT = 1.0
REPRESSOR_WEIGHT = 1.5
CROWD_FREE = 4.0                # sites beyond this many cost CROWD_COST each
CROWD_COST = 0.8
SATURATION = 6.0
GAIN = 1.5                      # puts the reachable maximum near 5.7, natural 99.9th pct near 4


def onehot(x: torch.Tensor) -> torch.Tensor:
    return F.one_hot(x.long(), 4).float()


def site_occupancy(x1h: torch.Tensor, site: str) -> torch.Tensor:
    """Soft occupancy per start position [n, L-k+1]: sigmoid(4 (matches - (k - 1))): a perfect site 0.98,
    one mismatch 0.5, two 0.02 (a binding energy that is roughly additive over positions)."""
    k = len(site)
    if x1h.shape[1] < k:   # a sequence shorter than the motif holds no site
        return torch.zeros(x1h.shape[0], 0)
    w = torch.zeros(1, 4, k)
    for j, c in enumerate(site):
        w[0, BASES.index(c), j] = 1.0
    match = F.conv1d(x1h.transpose(1, 2), w)[:, 0]
    return torch.sigmoid(4.0 * (match - (k - 1)))


def motif_occupancy(x1h, motif):
    """Max over both strands per position, so a palindrome is not counted twice."""
    return torch.maximum(site_occupancy(x1h, motif), site_occupancy(x1h, revcomp(motif)))


def sat(c, scale=1.0):
    return 1.0 - torch.exp(-c / scale)


def max_run(x: torch.Tensor) -> torch.Tensor:
    run = torch.ones(x.shape[0])
    best = torch.ones(x.shape[0])
    for i in range(1, x.shape[1]):
        run = torch.where(x[:, i] == x[:, i - 1], run + 1, torch.ones_like(run))
        best = torch.maximum(best, run)
    return best


def features(x, motifs, roles) -> dict:
    x = torch.as_tensor(np.asarray(x)).long()
    x1h = onehot(x)
    occ = [motif_occupancy(x1h, m) for m in motifs]
    counts = torch.stack([o.sum(1) for o in occ], 1)
    gc = x1h[..., 1:3].sum((1, 2)) / x.shape[1]
    acts = [i for i, r in enumerate(roles) if r == "activator"]
    pair = 0.0
    if len(acts) >= 2:
        a, b = acts[0], acts[1]
        o1 = site_occupancy(x1h, motifs[a])
        o2 = site_occupancy(x1h, motifs[b])
        for d in range(PAIR_SPACING[0], PAIR_SPACING[1] + 1):
            shift = len(motifs[a]) + d
            if shift < o2.shape[1]:
                n = min(o1.shape[1], o2.shape[1] - shift)
                pair = pair + (o1[:, :n] * o2[:, shift:shift + n]).sum(1)
    return {"counts": counts, "gc": gc, "pair": pair if torch.is_tensor(pair) else torch.zeros(len(x)),
            "max_run": max_run(x)}


def raw_activity(x, motifs, roles) -> torch.Tensor:
    f = features(x, motifs, roles)
    c = f["counts"]
    act = sum(ACT_WEIGHTS[k % 3] * sat(c[:, i]) for k, i in enumerate(i for i, r in enumerate(roles) if r == "activator"))
    act = act + PAIR_BONUS * sat(f["pair"])
    pioneer = [i for i, r in enumerate(roles) if r == "pioneer"]
    p_occ = sum(sat(c[:, i], 0.5) for i in pioneer) if pioneer else torch.ones(len(c))
    # enhancers act only in open chromatin: activators are gated by the pioneer factor
    raw = act * (0.25 + 0.75 * p_occ) + PIONEER_WEIGHT * p_occ if pioneer else act
    raw = raw - sum(REPRESSOR_WEIGHT * sat(c[:, i]) for i, r in enumerate(roles) if r == "repressor")
    raw = raw - CROWD_COST * torch.relu(c.sum(1) - CROWD_FREE)
    raw = raw - 10.0 * torch.relu((f["gc"] - 0.45).abs() - 0.15)
    raw = raw - 0.7 * torch.relu(f["max_run"] - 6)
    return raw


def true_activity(x, motifs, roles, offset: float) -> np.ndarray:
    """f*(x) = 6 tanh(1.5 (raw - offset) / 6); `offset` puts the natural median at 0."""
    raw = GAIN * raw_activity(x, motifs, roles)
    offset = GAIN * offset
    return (SATURATION * torch.tanh((raw - offset) / SATURATION)).numpy().astype(np.float64)


def accessible(x, motifs, roles) -> np.ndarray:
    """The ATAC analogue: a pioneer site is occupied (> 0.5) and GC is in [0.35, 0.6]."""
    f = features(x, motifs, roles)
    pioneer = [i for i, r in enumerate(roles) if r == "pioneer"]
    occ = f["counts"][:, pioneer].sum(1) if pioneer else torch.ones(len(f["gc"]))
    return ((occ > 0.5) & (f["gc"] >= 0.35) & (f["gc"] <= 0.6)).numpy()
