"""The two KL estimators of DRAKES fine-tuning, per reverse step from x_t (time t) to x_s.

All take log p_theta(x0 | x_t) and log p_pre(x0 | x_t) [B, L, 5] (SUBS, see ml.dna.mdlm), the state
x_t [B, L, 5] (one-hot or relaxed) and mask probabilities m_t > m_s; they return [B].
"""
from __future__ import annotations

import torch

from ml.dna.mdlm import MASK


def kl_repo(logp, logp_old, x_t, m_t, m_s):
    """As coded in DRAKES's finetune_reward_bp.py: sum_{i,y} c_i x_t[i,y] (p log(p/p_old) - p + p_old) / m_t
    over the 4 token channels, c = 1 - x_t[MASK]; no dt factor (absorbed into alpha). Under SUBS every
    position whose argmax is a token has p = p_old = one-hot, so a hard step contributes exactly 0: the
    signal comes only from relaxed positions whose argmax is still MASK (unit-tested)."""
    p, p_old = logp[..., :MASK].exp(), logp_old[..., :MASK].exp()
    c = 1 - x_t[..., MASK:MASK + 1]
    term = c * (p * (logp[..., :MASK] - logp_old[..., :MASK]) - p + p_old) / m_t
    return (term * x_t[..., :MASK]).sum((1, 2))


def kl_textbook(logp, logp_old, x_t, m_t, m_s):
    """Per-step KL between the two reverse kernels of the masked CTMC: at a masked position both move to
    token y with probability p_y (m_t - m_s)/m_t and stay masked with m_s/m_t, so
    KL = (m_t - m_s)/m_t * KL(p || p_old); unmasked positions are copied by both (KL 0). Summed over steps
    this is exactly the KL between the discrete-time trajectory laws (chain rule); relaxed states weight
    each position by its MASK mass."""
    p = logp[..., :MASK].exp()
    kl_pos = (p * (logp[..., :MASK] - logp_old[..., :MASK])).sum(-1)
    return ((m_t - m_s) / m_t * x_t[..., MASK] * kl_pos).sum(1)


KL = {"repo": kl_repo, "textbook": kl_textbook}
