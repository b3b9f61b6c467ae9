"""The paper's DNA metrics (DRAKES Table 2), plus the ones only a synthetic task allows.

pred_activity_median: median eval-oracle activity; true_activity_median: median f*; accessibility_acc:
fraction the held-out accessibility head calls open (prob > 0.5; the ATAC-Acc analogue; accessibility_true is
the ground-truth fraction, accessibility_head_agreement how often the head agrees with it); kmer_corr:
Pearson correlation of 3-mer counts with the top natural sequences by true activity (3-mer Corr);
log_likelihood_pretrained: median App-Log-Lik under the pretrained model; log_likelihood_exact: median
exact log p under the generator; diversity: mean pairwise Hamming distance (bases).
"""
from __future__ import annotations

import numpy as np
import torch

from ml.dna import mdlm


def kmer_counts(x, k=3) -> np.ndarray:
    x = np.asarray(x)
    codes = sum(x[:, j:x.shape[1] - k + 1 + j] * 4 ** (k - 1 - j) for j in range(k))
    return np.bincount(codes.ravel(), minlength=4 ** k).astype(np.float64)


def kmer_frequencies(x, k=3) -> np.ndarray:
    return kmer_counts(x, k) / len(x)


def kmer_corr(x, ref, k=3) -> float:
    """`ref`: sequences [m, L], or their k-mer frequencies [4^k] (what an own-data oracle's model.json keeps)."""
    ref = np.asarray(ref)
    b = ref if ref.ndim == 1 else kmer_frequencies(ref, k)
    return float(np.corrcoef(kmer_frequencies(x, k), b)[0, 1])


def diversity(x, max_n=512) -> float:
    x = torch.as_tensor(np.asarray(x)[:max_n])
    n = len(x)
    if n < 2:
        return 0.0
    d = (x[:, None, :] != x[None, :, :]).sum(-1).double()
    return float(d.sum() / (n * (n - 1)))


@torch.no_grad()
def oracle_predict(oracle, x, device="cpu", batch=1024) -> np.ndarray:
    """[n, 2]: activity, accessibility logit."""
    out = [oracle(torch.nn.functional.one_hot(xb.to(device).long(), 4).float()).cpu()
           for xb in torch.as_tensor(np.asarray(x)).split(batch)]
    return torch.cat(out).numpy()


NO_GROUND_TRUTH = ("no ground truth: the data came from FASTA, so no true activity, true accessibility or exact "
                   "likelihood exists; pred_activity_median is the held-out oracle's estimate and kmer_corr compares "
                   "with the most active sequences of the eval oracle's half by measured activity")
GROUND_TRUTH_KEYS = ("true_activity_median", "true_activity_mean", "accessibility_true", "log_likelihood_exact",
                     "accessibility_head_agreement")


def evaluate(x, task, eval_oracle=None, pretrained=None, reward_oracle=None, device="cpu", seed=0,
             loglik_steps=32, reference_kmers=None, accessibility_head=True) -> dict:
    """All metrics of one set of generated sequences x [n, L] (token ids). `task` None: the model learned
    from sequences of your own, and the ground-truth metrics are None with `no_ground_truth` saying why;
    `reference_kmers` then stands for the top natural sequences of kmer_corr (None: no kmer_corr)."""
    x = np.asarray(x).astype(np.int64)
    res = {"diversity": diversity(x), "n_samples": int(len(x))}
    if task is not None:
        ref_top, _, _ = task.reference_top()
        f = task.true_activity(x)
        open_true = task.accessible(x)
        res.update({"true_activity_median": float(np.median(f)), "true_activity_mean": float(np.mean(f)),
                    "accessibility_true": float(open_true.mean()), "kmer_corr": kmer_corr(x, ref_top),
                    "log_likelihood_exact": float(np.median(task.log_likelihood(x)))})
    else:
        res.update({k: None for k in GROUND_TRUTH_KEYS}, no_ground_truth=NO_GROUND_TRUTH,
                   kmer_corr=kmer_corr(x, reference_kmers) if reference_kmers is not None else None)
    res["diversity_per_base"] = res["diversity"] / x.shape[1]
    if eval_oracle is not None:
        pe = oracle_predict(eval_oracle, x, device)
        res["pred_activity_median"] = float(np.median(pe[:, 0]))
        # sigmoid(logit) > 0.5; an oracle trained without accessibility labels has no such head to ask
        res["accessibility_acc"] = float((pe[:, 1] > 0).mean()) if accessibility_head else None
        if task is not None:  # only a synthetic task can say whether the head is right on generated sequences
            res["accessibility_head_agreement"] = float(((pe[:, 1] > 0) == open_true).mean())
    if reward_oracle is not None:
        res["reward_ft_median"] = float(np.median(oracle_predict(reward_oracle, x, device)[:, 0]))
    if pretrained is not None:
        g = torch.Generator(device=device).manual_seed(seed + 17)
        ll = mdlm.approx_log_likelihood(pretrained, torch.as_tensor(x, device=device), loglik_steps, g)
        res["log_likelihood_pretrained"] = float(ll.median())
    return res
