"""What a `sample` job takes from its worker (ml/footprint.py), from `ml.sample.runner.run`'s arrays.

With n = n_samples, b = min(batch_size, n), and a gmm model of K components in d dimensions:

    memory = 16 n d              x_T, the finished chunks, their concatenation and its float32 copy
           + 24 b K d            float64 [b, K, d] working tensors of `GaussianMixture.eps_x0`
                                 (diff, its square, scaled: 3 x 8 bytes)
           + 64 b d              float64 solver state of a chunk (x, model outputs of multistep solvers)
           + 1 GB runtime
    files  = 2 (samples.npy, samples.png) + save_noise
           + (2 chunks + 1 when n > b: each chunk a checkpoint part of two files, and the manifest)

A trained model's own size was admitted with the `train` job that made it; its data dimension is read
from its file at run time, so only the gmm terms are counted here.
"""
from __future__ import annotations

from ml.footprint import Footprint, Term, ceil_div, term
from ml.sample.params import GmmModel, Params


def footprint(p: Params) -> Footprint:
    n, b = p.n_samples, min(p.batch_size, p.n_samples)
    memory = []
    if isinstance(p.model, GmmModel):
        k, d = len(p.model.means), len(p.model.means[0])
        memory = [term(("n_samples", "n_samples", n), ("dim", "model.means", d), unit=16, unit_text="16 bytes"),
                  term(("batch", "batch_size", b), ("components", "model.means", k), ("dim", "model.means", d),
                       unit=24, unit_text="8 bytes x 3 working copies"),
                  term(("batch", "batch_size", b), ("dim", "model.means", d), unit=64, unit_text="8 bytes x 8 solver states")]
    chunks = ceil_div(n, b)
    files = [Term(2 + int(p.save_noise), "samples" + (", noise" if p.save_noise else "") + " and plot", ())]
    if chunks > 1:
        files.append(Term(2 * chunks + 1, f"2 x (n_samples {n} / batch_size {b} = {chunks} checkpoint chunks) + 1",
                          ("n_samples", "batch_size")))
    return Footprint(memory, Term(1, "1 process", ()), files)
