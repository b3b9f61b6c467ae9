"""Masked (absorbing-state) diffusion over DNA, as in MDLM (Sahoo et al., NeurIPS 2024) and DRAKES.

Tokens 0..3 = ACGT, 4 = MASK. Log-linear schedule: mask probability m(t) = (1 - eps) t, i.e.
sigma(t) = -log(1 - (1 - eps) t) (MDLM eq. 13 with eps = 1e-3). SUBS parameterisation (MDLM sec. 3.2.3):
the MASK logit is -inf and unmasked positions are copied. Continuous-time NELBO (MDLM eq. 10):
E_t [ m'(t) / m(t) * sum over masked i of -log p(x0_i | x_t) ] = E_t [ 1/t * ... ] for this schedule.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MASK = 4
VOCAB = 5
EPS = 1e-3          # schedule eps (noise_schedule.py LogLinearNoise)
T_MIN = 1e-5        # last time of the sampling grid (DRAKES: linspace(1, 1e-5, N + 1))
NEG = -1e6          # finite "-inf" so that exp() is 0 and products with 0 stay 0, not NaN


def mask_prob(t):
    return (1 - EPS) * t


def onehot(x):
    return F.one_hot(x.long(), VOCAB).float()


def subs_log_probs(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """SUBS: log p_theta(x0 | x_t) over the 5 channels; MASK never predicted, a position whose state is a
    token (argmax != MASK, also for soft states) is copied. x: [B, L, 5] probabilities."""
    logits = logits.clone()
    logits[..., MASK] = NEG
    logp = torch.log_softmax(logits, -1)
    cur = x.argmax(-1)
    unmasked = (cur != MASK)[..., None]
    copy = torch.full_like(logp, NEG).scatter(-1, cur[..., None], 0.0)
    return torch.where(unmasked, copy, logp)


def denoise(net, x, label=None):
    """log p_theta(x0 | x_t) for a state x [B, L, 5] (probabilities)."""
    out = net(x) if label is None else net(x, label)
    return subs_log_probs(out, x)


def nelbo_loss(net, x0: torch.Tensor, generator=None, label=None) -> torch.Tensor:
    """Continuous-time NELBO per base, antithetic t (MDLM sec. 3.5), x0 [B, L] token ids."""
    B, L = x0.shape
    u = torch.rand((), generator=generator, device=x0.device)
    t = (u + torch.arange(B, device=x0.device) / B) % 1
    t = (1 - EPS) * t + EPS                     # sampling_eps keeps 1/t finite
    masked = torch.rand(B, L, generator=generator, device=x0.device) < mask_prob(t)[:, None]
    xt = torch.where(masked, torch.full_like(x0, MASK), x0)
    logp = denoise(net, onehot(xt), label).gather(-1, x0[..., None])[..., 0]
    # m'(t) / m(t) = 1 / t for the log-linear schedule
    return (-(logp * masked) / t[:, None]).sum(1).mean() / L


def time_grid(steps: int, device=None):
    return torch.linspace(1, T_MIN, steps + 1, device=device)


def transition_weights(logp_x0, m_t, m_s):
    """Unnormalised reverse kernel q(x_s | x_t) at a masked position (MDLM eq. 7 under SUBS):
    token y gets p(x0 = y) (m_t - m_s), MASK gets m_s."""
    q = logp_x0.exp() * (m_t - m_s)
    q[..., MASK] = m_s
    return q


def gumbel(shape, generator, device):
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-10, 1 - 1e-10)
    return -torch.log(-torch.log(u))


def ddpm_step(logp_x0, x, m_t, m_s, generator=None):
    """One hard reverse step on ids x [B, L]: masked positions draw from q (Gumbel-max), others stay."""
    q = transition_weights(logp_x0, m_t, m_s)
    draw = (q.clamp_min(1e-30).log() + gumbel(q.shape, generator, q.device)).argmax(-1)
    return torch.where(x == MASK, draw, x)


def relaxed_step(logp_x0, x, m_t, m_s, tau, generator=None):
    """DRAKES's relaxed step on a soft state x [B, L, 5]: Gumbel-softmax of q at temperature tau,
    soft copy c x + (1 - c) sample with c = 1 - x[MASK] (no straight-through inside the chain)."""
    q = transition_weights(logp_x0, m_t, m_s)
    sample = torch.softmax((q.clamp_min(1e-30).log() + gumbel(q.shape, generator, q.device)) / tau, -1)
    c = 1 - x[..., MASK:MASK + 1]
    return c * x + (1 - c) * sample


@torch.no_grad()
def sample(net, n, length, steps, generator=None, device="cpu", logp_fn=None, callback=None):
    """Ancestral sampling with `steps` reverse steps plus MDLM's final noise-removal argmax step;
    uses steps + 1 network calls. `logp_fn(x_onehot, t)` overrides the denoiser (guidance, CFG);
    `callback(i, x)` runs after reverse step i (progress, cancellation)."""
    logp_fn = logp_fn or (lambda xs, t: denoise(net, xs))
    x = torch.full((n, length), MASK, dtype=torch.long, device=device)
    ts = time_grid(steps, device)
    for i in range(steps):
        logp = logp_fn(onehot(x), ts[i])
        x = ddpm_step(logp, x, mask_prob(ts[i]), mask_prob(ts[i + 1]), generator)
        if callback is not None:
            callback(i, x)
    logp = logp_fn(onehot(x), ts[-1])
    return torch.where(x == MASK, logp[..., :4].argmax(-1), x)


@torch.no_grad()
def approx_log_likelihood(net, x0, steps=32, generator=None, batch=256) -> torch.Tensor:
    """The repo's App-Log-Lik: minus the discretised NELBO, sum_i (m_i - m_{i+1}) / m_i *
    sum_{masked} log p(x0 | x_t_i), one random mask per time (nats per sequence)."""
    out = []
    ts = time_grid(steps, x0.device)
    for xb in x0.split(batch):
        total = torch.zeros(len(xb), device=x0.device)
        for i in range(steps):
            m_t, m_s = mask_prob(ts[i]), mask_prob(ts[i + 1])
            masked = torch.rand(xb.shape, generator=generator, device=x0.device) < m_t
            xt = torch.where(masked, torch.full_like(xb, MASK), xb)
            logp = denoise(net, onehot(xt)).gather(-1, xb[..., None])[..., 0]
            total += (m_t - m_s) / m_t * (logp * masked).sum(1)
        out.append(total)
    return torch.cat(out)
