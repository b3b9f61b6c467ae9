"""A researcher's own enhancer data, made up so that its labels are a known function of the sequence: FASTA
sequences and a CSV of measured activity, as Gosai et al.'s MPRA come (tests/ml/dna/test_own_sequences.py,
tests/jobs/test_own_dna_pipeline.py)."""
from pathlib import Path

import numpy as np

MOTIF = "TGACTC"
L, N = 24, 800


def write_enhancer_data(root: Path) -> tuple[Path, Path]:
    """Uniform random sequences with 0-3 planted copies of MOTIF; activity = copies + N(0, 0.1^2) noise;
    accessibility = at least one copy. Returns the FASTA file and the CSV of labels written under `root`."""
    rng = np.random.default_rng(0)
    x = rng.choice(list("ACGT"), (N, L))
    for row in x:
        for _ in range(rng.integers(0, 4)):
            s = rng.integers(0, L - len(MOTIF) + 1)
            row[s:s + len(MOTIF)] = list(MOTIF)
    seqs = ["".join(r) for r in x]
    copies = np.array([sum(s[j:j + len(MOTIF)] == MOTIF for j in range(L - len(MOTIF) + 1)) for s in seqs])
    act = copies + 0.1 * rng.standard_normal(N)
    # sequence lines wrapped at 10 bases and ids with descriptions, as FASTA files from genome tools come
    fasta, labels = root / "enhancers.fa", root / "mpra.csv"
    fasta.write_text("".join(
        f">chr1:{1000 * i}-{1000 * i + L} peak{i}\n" + "\n".join(s[k:k + 10] for k in range(0, L, 10)) + "\n"
        for i, s in enumerate(seqs)))
    labels.write_text("id,activity,accessibility\n" + "".join(
        f"chr1:{1000 * i}-{1000 * i + L},{a:.4f},{int(c > 0)}\n" for i, (a, c) in enumerate(zip(act, copies))))
    return fasta, labels
