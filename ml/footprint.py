"""What a job will take from its worker, estimated from its params alone: memory, processes, files.

Each kind has `footprint(params) -> Footprint` beside its schema (`ml/<kind>/footprint.py`); the job
system refuses, at submit time, a job whose estimate is over the worker's limits, with the formula in
the answer so a researcher sees which params to lower. Estimates are "about": they count the arrays
that grow with the params (each term is the code's own tensors, named in the kind's docstring) plus a
fixed runtime, and round up where the code keeps temporaries.
"""
from __future__ import annotations

from dataclasses import dataclass

GB = 10**9
RUNTIME_BYTES = 1 * GB  # one Python process with torch (and a CUDA context) before any array


@dataclass(frozen=True)
class Term:
    """One product of params: `text` names each factor with its value, e.g. "n_samples 50000 x dim 2"."""
    value: int
    text: str
    fields: tuple[str, ...]


def term(*factors: tuple[str, str, int], unit: int = 1, unit_text: str = "") -> Term:
    """The product of (label, field, value) factors times `unit` ("8 bytes x 3 copies"); a factor of 1
    is left out of the text and of the fields (lowering it cannot help)."""
    factors = tuple(f for f in factors if int(f[2]) != 1)
    value = unit
    for _label, _field, v in factors:
        value *= int(v)
    text = " x ".join(f"{label} {v}" for label, _field, v in factors) + (f" x {unit_text}" if unit_text else "")
    return Term(value, text, tuple(f for _l, f, _v in factors if f))


@dataclass(frozen=True)
class Footprint:
    memory: list[Term]
    processes: Term
    files: list[Term]

    @property
    def memory_bytes(self) -> int:
        return RUNTIME_BYTES * self.processes.value + sum(t.value for t in self.memory)

    @property
    def file_count(self) -> int:
        return sum(t.value for t in self.files)

    def explain_memory(self) -> str:
        runtime = f"{self.processes.value} x 1 GB runtime" if self.processes.value > 1 else "1 GB runtime"
        return " + ".join([f"({t.text})" for t in self.memory] + [runtime])

    def explain_files(self) -> str:
        return " + ".join(t.text for t in self.files)

    @staticmethod
    def fields(terms) -> list[str]:
        """The fields of the terms that drive the sum (a tenth of it or more), largest term first:
        lowering a field of a negligible term would not help."""
        total = sum(t.value for t in terms)
        out: list[str] = []
        for t in sorted(terms, key=lambda t: -t.value):
            if t.value * 10 >= total:
                out.extend(f for f in t.fields if f not in out)
        return out


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
