"""Inference-time baselines of the DRAKES paper on the frozen pretrained model (repo:
diffusion_gosai_update.py): classifier guidance (CG, after Nisonoff et al. 2024), SMC and the twisted
diffusion sampler (TDS, Wu et al. 2023). All return (ids [n, L], oracle_calls, model_evals)."""
from __future__ import annotations

import torch

from ml.dna import mdlm
from ml.dna.mdlm import MASK


def guided_log_weights(pretrained, oracle, x, m_t, m_s, scale):
    """log q_pre(x_s | x_t) and its guided version: the oracle gradient w.r.t. the one-hot x_t, taken
    through the denoiser's x0 prediction (first-order, DPS-like), adds scale (g_y - g_MASK) to token y."""
    xs = mdlm.onehot(x).requires_grad_(True)
    with torch.enable_grad():
        logp = mdlm.denoise(pretrained, xs)
        r = oracle(logp[..., :MASK].exp())[:, 0]
        g, = torch.autograd.grad(r.sum(), xs)
    logq = torch.log_softmax(mdlm.transition_weights(logp.detach(), m_t, m_s).clamp_min(1e-30).log(), -1)
    bonus = scale * (g - g[..., MASK:MASK + 1])
    return logq, torch.log_softmax(logq + bonus, -1), logp.detach()


def draw(logq, x, generator):
    ids = (logq + mdlm.gumbel(logq.shape, generator, logq.device)).argmax(-1)
    return torch.where(x == MASK, ids, x)


def guided_set(steps, guided):
    """Indices of `guided` evenly spaced steps out of `steps` (all of them when guided is None or >= steps):
    each reverse step of the linear-in-t schedule unmasks the same expected number of positions, so
    evenly spaced steps spread the guidance over the sequence."""
    if guided is None or guided >= steps:
        return set(range(steps))
    return {int((j + 0.5) * steps / guided) for j in range(guided)}


def plain_log_weights(pretrained, x, m_t, m_s):
    return torch.log_softmax(mdlm.transition_weights(mdlm.denoise(pretrained, mdlm.onehot(x)), m_t, m_s)
                             .clamp_min(1e-30).log(), -1)


@torch.no_grad()
def sample_cg(pretrained, oracle, n, length, steps, scale, generator=None, device="cpu", guided=None):
    """Classifier guidance; `guided` = how many of the steps are guided (one oracle gradient per sample
    each), so CG can be run at a given oracle budget without changing the sampler's step count."""
    x = torch.full((n, length), MASK, dtype=torch.long, device=device)
    ts = mdlm.time_grid(steps, device)
    at = guided_set(steps, guided)
    for i in range(steps):
        m_t, m_s = mdlm.mask_prob(ts[i]), mdlm.mask_prob(ts[i + 1])
        if i in at:
            _, logq, _ = guided_log_weights(pretrained, oracle, x, m_t, m_s, scale)
        else:
            logq = plain_log_weights(pretrained, x, m_t, m_s)
        x = draw(logq, x, generator)
    logp = mdlm.denoise(pretrained, mdlm.onehot(x))
    x = torch.where(x == MASK, logp[..., :MASK].argmax(-1), x)
    return x, n * len(at), n * (steps + 1)


def value(pretrained, oracle, x):
    """v(x_t) = r(argmax of the x0 prediction), the repo's value estimate for SMC/TDS."""
    logp = mdlm.denoise(pretrained, mdlm.onehot(x))
    x0 = torch.where(x == MASK, logp[..., :MASK].argmax(-1), x)
    return oracle(torch.nn.functional.one_hot(x0, 4).float())[:, 0]


@torch.no_grad()
def sample_smc(pretrained, oracle, n, length, steps, alpha, particles, generator=None, device="cpu",
               scale=0.0):
    """SMC with potential exp(v/alpha), resampling every step within groups of `particles`; scale > 0
    makes it TDS: guided proposal and importance weight q_pre(x_s|x_t) / q_guided(x_s|x_t)."""
    G = -(-n // particles)
    N = G * particles
    x = torch.full((N, length), MASK, dtype=torch.long, device=device)
    ts = mdlm.time_grid(steps, device)
    v_t = torch.zeros(N, device=device)
    calls, evals = 0, 0
    for i in range(steps):
        m_t, m_s = mdlm.mask_prob(ts[i]), mdlm.mask_prob(ts[i + 1])
        if scale > 0:
            logq, logq_g, _ = guided_log_weights(pretrained, oracle, x, m_t, m_s, scale)
            calls += N
        else:
            logq = logq_g = plain_log_weights(pretrained, x, m_t, m_s)
        evals += N
        x_new = draw(logq_g, x, generator)
        moved = (x == MASK)
        log_ratio = ((logq - logq_g).gather(-1, x_new[..., None])[..., 0] * moved).sum(1)
        v_s = value(pretrained, oracle, x_new)
        calls, evals = calls + N, evals + N
        logw = (v_s - v_t) / alpha + log_ratio
        w = torch.softmax(logw.view(G, particles), -1)
        idx = torch.multinomial(w, particles, replacement=True, generator=generator)
        idx = (idx + torch.arange(G, device=device)[:, None] * particles).view(-1)
        x, v_t = x_new[idx], v_s[idx]
    logp = mdlm.denoise(pretrained, mdlm.onehot(x))
    x = torch.where(x == MASK, logp[..., :MASK].argmax(-1), x)
    return x[:n], calls, evals + N


@torch.no_grad()
def sample_best_of_n(pretrained, oracle, n, length, steps, n_cand, generator=None, device="cpu", chunk=512):
    """Best-of-N: draw N candidates per output from the pretrained model, keep the one the oracle likes best."""
    best_x, best_r = [], []
    total = n * n_cand
    xs, rs = [], []
    for start in range(0, total, chunk):
        m = min(chunk, total - start)
        x = mdlm.sample(pretrained, m, length, steps, generator, device)
        xs.append(x)
        rs.append(oracle(torch.nn.functional.one_hot(x, 4).float())[:, 0])
    x, r = torch.cat(xs).view(n, n_cand, length), torch.cat(rs).view(n, n_cand)
    pick = r.argmax(1)
    return x[torch.arange(n, device=device), pick], total, total * (steps + 1)
