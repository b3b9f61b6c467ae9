import numpy as np

from ml.dna.metrics import diversity, kmer_corr, kmer_counts


def test_kmer_counts_and_correlation():
    x = np.array([[0, 0, 0, 1]])
    c = kmer_counts(x)
    assert c.sum() == 2 and c[0] == 1 and c[1] == 1      # AAA, AAC
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (50, 30))
    assert abs(kmer_corr(a, a) - 1) < 1e-12


def test_diversity_is_mean_pairwise_hamming():
    assert diversity(np.zeros((5, 10), dtype=int)) == 0.0
    x = np.array([[0, 0, 0], [1, 1, 0]])
    assert diversity(x) == 2.0
    rng = np.random.default_rng(0)
    # random sequences differ at 3/4 of positions; std of the mean over 190 pairs of 100 bases ~0.3
    assert abs(diversity(rng.integers(0, 4, (20, 100))) - 75) < 2
