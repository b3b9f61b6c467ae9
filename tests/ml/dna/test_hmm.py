import itertools

import numpy as np

from ml.dna import hmm
from ml.dna.problem import build


def small_task(length):
    # two activators -> the cooperative-pair spacer states exist too
    return build({"length": length, "motifs": ["ACGTAC", "TTGCAA"], "roles": ["activator", "activator"],
                  "sites_per_seq": 1.0, "n_data": 200, "n_reference": 200})


def all_sequences(length):
    return np.array(list(itertools.product(range(4), repeat=length)))


def test_log_likelihood_sums_to_one_over_all_sequences():
    t = build({"length": 5, "n_data": 200, "n_reference": 200})   # default 6 motifs, 128 states
    total = np.exp(t.log_likelihood(all_sequences(5))).sum()
    # float64 forward algorithm: error ~1e-15 per step, 1024 terms
    assert abs(total - 1.0) < 1e-9


def brute_force(h, x):
    """Sum over every hidden path with non-zero probability (depth-first)."""
    total = 0.0
    stack = [(s, h.init[s] * h.emit[s, x[0]], 1) for s in np.nonzero(h.init)[0]]
    while stack:
        s, p, i = stack.pop()
        if p == 0:
            continue
        if i == len(x):
            total += p
            continue
        for s2 in np.nonzero(h.trans[s])[0]:
            stack.append((s2, p * h.trans[s, s2] * h.emit[s2, x[i]], i + 1))
    return total


def test_forward_algorithm_matches_brute_force_over_hidden_paths():
    t = small_task(4)
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.integers(0, 4, (6, 4)), [[0, 1, 2, 3], [3, 3, 2, 1]]])  # ACGT = a motif prefix
    fwd = np.exp(t.log_likelihood(xs))
    bf = np.array([brute_force(t.hmm, x) for x in xs])
    # same sums in a different order: relative float64 round-off only
    np.testing.assert_allclose(fwd, bf, rtol=1e-10)


def test_samples_follow_the_exact_probabilities():
    t = small_task(3)
    n = 100_000
    x = t.sample_natural(n, seed=1)
    codes = x[:, 0] * 16 + x[:, 1] * 4 + x[:, 2]
    freq = np.bincount(codes, minlength=64) / n
    p = np.exp(t.log_likelihood(all_sequences(3)))
    # binomial standard error per cell; 5 sigma over 64 cells fails by chance with p < 1e-4
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_revcomp_and_background_chain():
    assert hmm.revcomp("AACGT") == "ACGTT"
    P = hmm.background_chain(0.42, 0.25)
    np.testing.assert_allclose(P.sum(1), 1.0)
    assert P[1, 2] < P[0, 2]   # CpG depleted
