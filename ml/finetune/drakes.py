"""DRAKES: reward fine-tuning of a masked diffusion model by backpropagating through Gumbel-softmax
relaxed trajectories (Wang et al., "Fine-Tuning Discrete Diffusion Models via Reward Optimization with
Applications to DNA and Protein Design", ICLR 2025, Alg. 1), as the authors' code does it
(drakes_dna/finetune_reward_bp.py, diffusion_gosai_update.py `_sample_finetune_gradient`).
"""
from __future__ import annotations

import torch

from ml.dna import mdlm
from ml.dna.mdlm import MASK
from ml.finetune.kl import KL


def sample_relaxed(net, n, length, steps, truncate, tau, generator=None, device="cpu"):
    """Trajectory with hard steps 0..N-K-1 (detached) and Gumbel-softmax steps N-K..N-1 (with graph).

    Returns the straight-through sample [n, L, 4] (forward: argmax one-hot of the 4 token channels of the
    final soft state; backward: the soft values), and per step (x_t, logp_theta(x0|x_t) or None, m_t, m_s)
    for the KL. There is no final noise-removal step, as in the repo's gradient sampler.
    """
    x = mdlm.onehot(torch.full((n, length), MASK, dtype=torch.long, device=device))
    ts = mdlm.time_grid(steps, device)
    record = []
    for i in range(steps):
        m_t, m_s = mdlm.mask_prob(ts[i]), mdlm.mask_prob(ts[i + 1])
        if i < steps - truncate:
            with torch.no_grad():
                logp = mdlm.denoise(net, x)
                ids = mdlm.ddpm_step(logp, x.argmax(-1), m_t, m_s, generator)
            record.append((x, None, m_t, m_s))
            x = mdlm.onehot(ids)
        else:
            logp = mdlm.denoise(net, x)
            record.append((x, logp, m_t, m_s))
            x = mdlm.relaxed_step(logp, x, m_t, m_s, tau, generator)
    soft = x[..., :MASK]
    hard = mdlm.onehot(soft.argmax(-1))[..., :MASK]
    return soft + (hard - soft).detach(), record


def trajectory_kl(net, pretrained, record, kind, truncate_kl=False):
    """Sum over steps of the chosen estimator, [B]. The repo estimator is exactly 0 on hard steps under
    SUBS (see kl_repo), so those steps are skipped for it; the textbook one re-runs the model on them."""
    total = 0.0
    for x_t, logp, m_t, m_s in record:
        if logp is None and (kind == "repo" or truncate_kl):
            continue
        if logp is None:
            logp = mdlm.denoise(net, x_t)
        logp_old = mdlm.denoise(pretrained, x_t)
        total = total + KL[kind](logp, logp_old, x_t, m_t, m_s)
    return total if torch.is_tensor(total) else torch.zeros((), device=record[0][0].device)


def drakes_loss(net, pretrained, oracle, p, length, generator, device):
    """loss = -mean(r) + alpha * mean(KL) on one micro-batch (Alg. 1, line 'update'); p holds the knobs."""
    x0, record = sample_relaxed(net, p.batch_size, length, p.sampling_steps, min(p.truncate_steps, p.sampling_steps),
                                p.temperature, generator, device)
    reward = oracle(x0)[:, 0]
    kl = trajectory_kl(net, pretrained, record, p.kl, p.truncate_kl) if p.alpha > 0 else torch.zeros(p.batch_size, device=device)
    loss = -reward.mean() + p.alpha * kl.mean()
    return loss, reward.detach(), kl.detach()
