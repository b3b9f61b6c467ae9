"""Sequences of your own: a FASTA file and a CSV of labels, as a researcher with MPRA data (Gosai et al. 2023)
has them, read into what the DNA objectives train on.

FASTA: records `>id description` followed by sequence lines; the id is the first word after `>`. Bases are
read case-insensitively; all sequences must have one length (the masked model generates one length) and
hold only A, C, G, T.
CSV: a header row; an `id` (or `name`) column naming FASTA records, the activity column (`activity` unless
`activity_column` says otherwise), and optionally an accessibility column (0/1; `accessibility`). Records of
the FASTA without a row are unlabelled: the masked model learns from them, an oracle does not.

Splits are fixed functions of the data and `split_seed` (ml/data/split.py): the masked model's held-out
sequences, and the oracles' two halves of the labelled records (split 0 and split 1 are disjoint).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.data.arrays import file_stamp
from ml.params import DataError as _FileError
from ml.data.split import halves, holdout_split
from ml.dna.hmm import BASES

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
ID_COLUMNS = ("id", "name")
MAX_LENGTH = 2048   # as DnaTask.length
NOT_A_BASE = -1
MIN_LABELLED = 8    # an oracle's half holds 4: 2 to validate on, 2 to learn from


class DataError(_FileError):
    """A FASTA or CSV that cannot be used; `loc` is the params field it came from."""

    def __init__(self, message: str, loc=("data",)):
        super().__init__(message)
        self.loc = tuple(loc)


@dataclass(frozen=True)
class Records:
    name: str                    # the FASTA's file name
    ids: tuple
    x: np.ndarray                # [N, L] token ids 0..3 (ACGT), int8: an MPRA library of 700k 200-mers is 140 MB
    activity: np.ndarray | None  # [N] float32, NaN where the CSV has no row
    accessibility: np.ndarray | None
    sha256: str

    @property
    def length(self) -> int:
        return self.x.shape[1]

    def labelled_rows(self) -> np.ndarray:
        return np.flatnonzero(~np.isnan(self.activity)) if self.activity is not None else np.zeros(0, dtype=int)


def _pick(path: Path, suffixes, what: str, loc) -> Path:
    if not path.exists():
        raise DataError(f"{path} does not exist", loc)
    if path.is_file():
        return path
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes)
    if len(found) != 1:
        raise DataError(f"folder {path.name}/ holds {len(found)} {what} files ({', '.join(suffixes)}); give one", loc)
    return found[0]


def parse_fasta(text: str, name: str) -> tuple[list[str], list[str]]:
    ids, seqs, cur = [], [], None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            rid = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
            if not rid:
                raise DataError(f"{name}: line {n} is a record header without an id")
            ids.append(rid)
            cur = []
            seqs.append(cur)
        elif cur is None:
            raise DataError(f"{name}: line {n} holds bases before the first '>' header; is it a FASTA file?")
        else:
            cur.append(line.upper())
    if not ids:
        raise DataError(f"{name} holds no FASTA records ('>id' lines followed by bases)")
    return ids, ["".join(s) for s in seqs]


def _encode(ids, seqs, name) -> np.ndarray:
    dup = _first_duplicate(ids)
    if dup is not None:
        raise DataError(f"{name}: record id {dup!r} appears twice; ids name the rows of the labels CSV")
    lengths = np.array([len(s) for s in seqs])
    if lengths.min() != lengths.max():
        short = int(np.argmin(lengths))
        raise DataError(f"{name}: sequences have lengths {lengths.min()} to {lengths.max()} bases (e.g. {ids[short]} "
                        f"has {lengths[short]}); all must have one length (trim or pad them to it)")
    if not 2 <= lengths[0] <= MAX_LENGTH:
        raise DataError(f"{name}: sequences of {lengths[0]} bases; the DNA models take 2 to {MAX_LENGTH}")
    table = np.full(256, NOT_A_BASE, dtype=np.int8)   # a byte table: an MPRA library is 10^8 bases
    for i, b in enumerate(BASES):
        table[ord(b)] = i
    raw = np.frombuffer("".join(seqs).encode("ascii", "replace"), dtype=np.uint8).reshape(len(seqs), -1)
    x = table[raw]
    wrong = x == NOT_A_BASE
    if wrong.any():
        r, c = (int(v) for v in np.argwhere(wrong)[0])
        bad = int(wrong.any(1).sum())
        raise DataError(f"{name}: {bad} record(s) hold letters other than A, C, G, T (the first: {ids[r]} has "
                        f"{seqs[r][c]!r} at base {c + 1}); drop those records or replace the letters")
    return x


def _first_duplicate(items):
    seen = set()
    for i in items:
        if i in seen:
            return i
        seen.add(i)
    return None


def _column(header, want, loc, name, required=True):
    lower = {h.strip().lower(): h for h in header}
    for w in (want if isinstance(want, tuple) else (want,)):
        if w.lower() in lower:
            return lower[w.lower()]
    if required:
        raise DataError(f"{name} has no column {' or '.join(map(repr, want if isinstance(want, tuple) else (want,)))} "
                        f"(its header: {', '.join(header)})", loc)
    return None


def _labels(text: str, name: str, ids, activity_column: str, accessibility_column: str):
    loc = ("data", "labels")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if not header:
        raise DataError(f"{name} is empty: give a header row (id,{activity_column}[,{accessibility_column}])", loc)
    id_col = _column(header, ID_COLUMNS, loc, name)
    act_col = _column(header, activity_column, loc, name)
    acc_col = _column(header, accessibility_column, loc, name, required=False)
    row_of = {rid: i for i, rid in enumerate(ids)}
    act = np.full(len(ids), np.nan, dtype=np.float32)
    acc = np.full(len(ids), np.nan, dtype=np.float32) if acc_col else None
    seen, unknown = set(), []
    for line, row in enumerate(reader, 2):
        rid = (row.get(id_col) or "").strip()
        if rid in seen:
            raise DataError(f"{name}: line {line}: id {rid!r} appears twice", loc)
        seen.add(rid)
        if rid not in row_of:
            unknown.append(rid)
            continue
        act[row_of[rid]] = _number(row.get(act_col), name, line, act_col)
        if acc_col:
            a = _number(row.get(acc_col), name, line, acc_col)
            if not 0 <= a <= 1:
                raise DataError(f"{name}: line {line}: {acc_col} is {a}; give 0 (closed) or 1 (open)", loc)
            acc[row_of[rid]] = a
    if unknown:
        raise DataError(f"{name}: {len(unknown)} row(s) name ids that are not records of the FASTA "
                        f"(e.g. {unknown[0]!r})", loc)
    if not seen:
        raise DataError(f"{name} has a header but no rows", loc)
    return act, acc


def _number(text, name, line, col) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise DataError(f"{name}: line {line}: {col} is {text!r}, not a number", ("data", "labels")) from None
    if not np.isfinite(v):
        raise DataError(f"{name}: line {line}: {col} is {text!r}; give a finite number", ("data", "labels"))
    return v


def _read_text(path: Path, loc) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise DataError(f"{path.name} is not a text file (is it compressed? give it unpacked)", loc) from None


def check_labelled(name: str, n: int) -> None:
    if n < MIN_LABELLED:
        raise DataError(f"{name}: {n} records have labels; an oracle needs at least {MIN_LABELLED} "
                        f"({MIN_LABELLED // 2} in each half)", ("data", "labels"))


def _stamps(spec) -> tuple:
    get = spec.get if isinstance(spec, dict) else lambda k: getattr(spec, k)
    fasta = _pick(Path(get("path")), FASTA_SUFFIXES, "FASTA", ("data",))
    labels = get("labels")
    lpath = (labels.get("path") if isinstance(labels, dict) else getattr(labels, "path", None)) if labels else None
    lstamp = file_stamp(_pick(Path(lpath), (".csv",), "CSV", ("data", "labels"))) if lpath else None
    return file_stamp(fasta), lstamp, get("activity_column"), get("accessibility_column")


def load(spec) -> Records:
    """Records of a DnaFiles spec (a params object or its dict); raises DataError naming the field."""
    return _load(*_stamps(spec))


def describe(spec) -> tuple:
    """(records, length, labelled records) once the files pass every check: what params validation asks,
    cached by file identity so the API and the worker's second check do not read a library again (the
    sequences themselves are not kept: a web process need not hold a 10^8-base library)."""
    return _describe(*_stamps(spec))


@functools.lru_cache(maxsize=16)
def _describe(*stamps) -> tuple:
    r = _load(*stamps)
    return len(r.x), r.length, len(r.labelled_rows())


def _load(fasta: tuple, labels: tuple | None, activity_column: str, accessibility_column: str) -> Records:
    path = Path(fasta[0])
    text = _read_text(path, ("data",))
    ids, seqs = parse_fasta(text, path.name)
    x = _encode(ids, seqs, path.name)
    act = acc = None
    digest = hashlib.sha256(text.encode())
    if labels is not None:
        lp = Path(labels[0])
        ltext = _read_text(lp, ("data", "labels"))
        act, acc = _labels(ltext, lp.name, ids, activity_column, accessibility_column)
        digest.update(ltext.encode())
    return Records(path.name, tuple(ids), x, act, acc, digest.hexdigest())


@dataclass
class FastaData:
    """What the DNA objectives need of sequences of your own; the counterpart of the synthetic Problem
    (ml/dna/problem.py) without its ground truth: no true activity, no exact likelihood."""
    records: Records
    holdout: float
    split_seed: int
    spec: dict

    @property
    def length(self) -> int:
        return self.records.length

    def pretraining(self) -> tuple[np.ndarray, np.ndarray]:
        """(training sequences, held-out sequences) of the masked model."""
        train, held = holdout_split(len(self.records.x), self.holdout, self.split_seed)
        return self.records.x[train].astype(np.int64), self.records.x[held].astype(np.int64)

    def labelled(self, split: int):
        """(x, activity, accessibility or None) of one half of the labelled records."""
        rows = self.records.labelled_rows()
        check_labelled(self.records.name, len(rows))
        half = rows[halves(len(rows), self.split_seed)[split]]
        acc = self.records.accessibility
        return self.records.x[half].astype(np.int64), self.records.activity[half], (acc[half] if acc is not None else None)

    def describe(self) -> dict:
        """What a model.json records of its data ("data", beside a synthetic model's "task")."""
        r = self.records
        return {"type": "fasta", "name": r.name, "length": r.length, "n_sequences": len(r.x),
                "n_labelled": int(len(r.labelled_rows())), "sha256": r.sha256,
                "accessibility": r.accessibility is not None,
                **{k: self.spec.get(k) for k in ("artifact", "labels", "activity_column", "holdout", "split_seed")
                   if self.spec.get(k) is not None}}


def fasta_data(spec) -> FastaData:
    get = spec.get if isinstance(spec, dict) else lambda k: getattr(spec, k)
    dumped = spec if isinstance(spec, dict) else spec.model_dump(exclude_none=True)
    # the artifact ids say where the data came from; the paths are this machine's and change between runs
    kept = {k: v for k, v in dumped.items() if k != "path"}
    if isinstance(kept.get("labels"), dict):
        kept["labels"] = {k: v for k, v in kept["labels"].items() if k != "path"} or None
    return FastaData(load(spec), get("holdout"), get("split_seed"), kept)
