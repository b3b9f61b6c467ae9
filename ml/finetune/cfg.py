"""Classifier-free guidance baseline (Ho & Salimans 2022) as in DRAKES's cfg.py / diffusion_gosai_cfg.py:
a conditional MDLM (label 1 = high activity, null label with probability cfg_drop_prob) sampled with
log-probs (1 + w) cond - w uncond.

The paper trains a separate conditional model from scratch; to keep the job small we train it inside the
job, starting from the pretrained weights (class embedding initialised to zero), on the reward oracle's
half of the labelled data, for cfg_train_steps steps, on the engine (checkpointed and resumable like
DRAKES). The job reports that choice.
"""
from __future__ import annotations

import numpy as np
import torch

from ml import nets
from ml.dna import mdlm
from ml.dna.mdlm import MASK
from ml.engine import Plan, fit, make_optimizer

BATCH = 128  # sequences per step of the conditional model


def train_conditional(pretrained, cfg, task, p, reporter, device, generator):
    # classes: 0 = not active, 1 = active, 2 = null (dropped label)
    net = nets.build("dnaconv", **dict(cfg["arch_kwargs"], n_classes=2)).to(device)
    missing = net.load_state_dict(pretrained.state_dict(), strict=False)
    assert set(missing.missing_keys) == {"cls.weight"}, missing
    x, y, _ = task.labelled(0)
    label = (y > np.quantile(y, p.cfg_quantile)).astype(np.int64)
    x, label = torch.as_tensor(x, device=device), torch.as_tensor(label, device=device)
    opt = make_optimizer("adamw", net.parameters(), 3e-4)
    net.train()

    def loss(model, step, g):
        idx = torch.randint(0, len(x), (BATCH,), generator=g, device=device)
        lab = torch.where(torch.rand(BATCH, generator=g, device=device) < p.cfg_drop_prob,
                          torch.full_like(label[idx], 2), label[idx])
        return mdlm.nelbo_loss(model, x[idx], g, label=lab)

    plan = Plan(steps=p.cfg_train_steps, lr=3e-4, grad_clip=1.0, batch_size=BATCH, log_every=20,
                checkpoint_every=p.checkpoint_every, prefix="cfg/")
    fit(plan, net, opt, loss, reporter, generator, device=device)
    reporter.log(f"CFG: trained the conditional model for {p.cfg_train_steps} steps from the pretrained weights "
                 f"(label = activity label > {p.cfg_quantile:.0%} quantile, {int(label.sum())} positives)")
    return net.eval()


@torch.no_grad()
def sample_cfg(cond_net, n, length, steps, w, generator=None, device="cpu"):
    pos = torch.ones(n, dtype=torch.long, device=device)
    null = torch.full((n,), 2, dtype=torch.long, device=device)

    def logp_fn(xs, t):
        lc, lu = mdlm.denoise(cond_net, xs, pos), mdlm.denoise(cond_net, xs, null)
        mix = torch.log_softmax((1 + w) * lc[..., :MASK] - w * lu[..., :MASK], -1)
        out = torch.cat([mix, torch.full_like(mix[..., :1], mdlm.NEG)], -1)
        return torch.where((xs.argmax(-1) != MASK)[..., None], lc, out)   # SUBS copy kept

    x = mdlm.sample(cond_net, n, length, steps, generator, device, logp_fn=logp_fn)
    return x, 0, 2 * n * (steps + 1)
