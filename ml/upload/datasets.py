"""A dataset file of each format, read as the jobs that use it read it; BadUpload naming what is wrong.

`npy`: an .npy array ([N, d] or [N, C, H, W] in [-1, 1]) or a zip of PNGs (ml/data/arrays.py; the zip is
checked as every archive is); `text`: UTF-8 text (a calibration text); `fasta`: DNA sequences
(ml/dna/records.py); `csv`: a table with a header row (labels of a FASTA file).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .archive import BadUpload, Limits, members

SUFFIXES = {"npy": (".npy", ".zip"), "text": (".txt", ".text", ".md"), "fasta": (".fa", ".fasta", ".fna"),
            "csv": (".csv",)}


def check_suffix(fmt: str, name: str) -> None:
    if not name.lower().endswith(SUFFIXES[fmt]):
        raise BadUpload(f"{name}: a {fmt} file's name ends in {' or '.join(SUFFIXES[fmt])} (the jobs read a file "
                        "by its suffix)")


def _text(path: Path, name: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadUpload(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})")
    if not text.strip():
        raise BadUpload(f"{name} is empty")
    return text


def describe(fmt: str, path, name: str, limits: Limits) -> dict:
    path = Path(path)
    check_suffix(fmt, name)
    if fmt == "npy":
        from ml.data import arrays
        from ml.params import DataError

        if name.lower().endswith(".zip"):
            infos = members(path, limits, name)
            odd = [i.filename for i in infos if not i.filename.lower().endswith(".png")]
            if odd:
                raise BadUpload(f"{name}: {', '.join(odd[:5])}: a zip of images holds PNG files only")
        try:
            s = arrays.describe(path)
        except DataError as exc:
            raise BadUpload(str(exc).replace(path.name, name))
        return {"shape": list(s.shape), "min": s.lo, "max": s.hi}
    text = _text(path, name)
    if fmt == "text":
        return {"characters": len(text), "lines": text.count("\n") + 1}
    if fmt == "fasta":
        from ml.dna import records

        try:
            ids, seqs = records.parse_fasta(text, name)
        except records.DataError as exc:
            raise BadUpload(str(exc))
        # the counts admission prices a job on this file by, without reading it again (ml/inputs.py's from_summary)
        return {"sequences": len(seqs), "length_min": min(map(len, seqs)), "length_max": max(map(len, seqs)),
                "lines": len(text.splitlines())}
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], [r for r in rows[1:] if r]
    if not body:
        raise BadUpload(f"{name} has a header ({','.join(header)}) but no rows")
    ragged = next((n for n, r in enumerate(rows[1:], 2) if r and len(r) != len(header)), None)
    if ragged is not None:
        raise BadUpload(f"{name}: line {ragged} has {len(rows[ragged - 1])} fields, the header {len(header)}")
    return {"columns": header, "rows": len(body)}
