"""What a `quantize` job takes from its worker (ml/footprint.py).

It holds one model (a builtin benchmark model of under a million weights, or an artifact whose size
was admitted with the `train` job that made it), its quantized copy and n_calibration inputs:

    memory = 1 GB runtime (the calibration set and the Hessians are a few MB for these models)
    files  = 6 (model, quantized model, report and their json)
"""
from __future__ import annotations

from ml.footprint import Footprint, Term
from ml.quantize.params import Params


def footprint(p: Params) -> Footprint:
    return Footprint([], Term(1, "1 process", ()), [Term(6, "6 model and report files", ())])
