"""The `upload` job kind: the validation of a model or dataset a user uploaded (docs/uploads.md).

archive.py (zip checks and safe unpacking), layouts.py (the files of a diffusers / transformers / lab folder),
models.py (each folder loaded once: config, parameters, dtype), datasets.py (npy, text, fasta, csv read once),
runner.py (the job). Made by POST /api/artifacts/, not by a user's params: it is not among the kinds of
/api/job-kinds/. `python -m ml.upload --params p.json --out d` checks a file in the terminal.
"""
from ml.upload.params import Params
from ml.upload.runner import run

__all__ = ["Params", "run"]
