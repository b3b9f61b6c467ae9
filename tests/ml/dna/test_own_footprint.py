"""ml/train/footprint.py's FASTA terms against the memory a DNA job on sequences of your own really takes: the peak
resident set of `python -m ml.train` on a large FASTA less that on a small one of the same length, so that what
does not grow with the data (torch, the network, the 1 GB runtime of the estimate) cancels.

The tolerance comes from the formula's one simplification: the terms of reading the file (its text, its lines)
and those of training (the codes, their int64 copies, the evaluation) are added, though the allocator may give
the pages freed after reading to the arrays of training. A sum of two phases is at least the larger and at most
twice it, so the measured growth must lie between half the estimated growth and all of it."""
import numpy as np
import pytest

from ml.inputs import local_inputs
from ml.train.footprint import footprint
from ml.train.params import Params
from tests.ml.peak_rss import peak_rss_bytes

L = 200


def write_fasta(root, n: int, wrap: int):
    """n random L-base records, sequence lines of `wrap` bases, and a CSV labelling every one."""
    rng = np.random.default_rng(n)
    bases = np.array(list("ACGT"))[rng.integers(0, 4, (n, L))].view(f"<U{L}")[:, 0]
    fasta, labels = root / f"seqs{n}.fa", root / f"labels{n}.csv"
    fasta.write_text("".join(f">seq{i} peak\n" + "\n".join(s[k:k + wrap] for k in range(0, L, wrap)) + "\n"
                             for i, s in enumerate(bases)))
    labels.write_text("id,activity\n" + "".join(f"seq{i},{v:.4f}\n" for i, v in enumerate(rng.standard_normal(n))))
    return fasta, labels


def estimate_and_peak(params: dict, tmp_path, name: str) -> tuple[int, int]:
    p = Params.model_validate(params)
    est = footprint(p, local_inputs(p, {"data": params["data"]["path"]})).memory_bytes
    return est, peak_rss_bytes("train", params, tmp_path, name)


@pytest.mark.parametrize("objective, wrap", [("masked_diffusion", L), ("oracle", 10)])
def test_the_fasta_terms_cover_the_measured_growth_and_are_within_twice_it(objective, wrap, tmp_path):
    # 100,000 records: ~0.4 GB more than 1,000 (single lines: the int64 copies drive it; 10-base lines: the
    # line objects and the oracle's one-hot), far above the ~10 MB a run's peak varies by
    runs = []
    for n in (1_000, 100_000):
        fasta, labels = write_fasta(tmp_path, n, wrap)
        params = {"objective": objective, "data": {"path": str(fasta), "labels": {"path": str(labels)}}, "steps": 2,
                  "batch_size": 8, "width": 16, "device": "cpu", "warmup_steps": 0, "checkpoint_every": 0,
                  **({"depth": 2} if objective == "masked_diffusion" else {})}
        runs.append(estimate_and_peak(params, tmp_path, f"{objective}{n}"))
    (small_est, small_peak), (big_est, big_peak) = runs
    grown, estimated = big_peak - small_peak, big_est - small_est
    assert estimated / 2 <= grown <= estimated, (runs, grown, estimated)
