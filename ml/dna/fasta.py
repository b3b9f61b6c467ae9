"""FASTA output of generated sequences."""
from __future__ import annotations

import numpy as np

from ml.dna.hmm import BASES


def to_strings(x) -> list[str]:
    table = np.array(list(BASES))
    return ["".join(table[row]) for row in np.asarray(x)]


def write_fasta(path, x, activity=None) -> None:
    lines = []
    for i, s in enumerate(to_strings(x)):
        tag = f" true_activity={activity[i]:.3f}" if activity is not None else ""
        lines += [f">seq{i}{tag}", s]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
