"""Admission: refuse at submit time a job its worker cannot hold.

Per-field bounds let through combinations that no worker fits (a 4096-dimensional, 32-component
mixture sampled 50,000 at a time; 64 DDP processes on one CPU): the job would be killed for memory
and retried, or take a node down. Each kind estimates what it needs from its validated params
(`ml/<kind>/footprint.py`, a documented formula); over the limits in settings is a 400 that gives the
estimate, its formula and the fields to lower. A job on a model or data of your own is checked twice: on
its params first, then on the headers of the files its references name (jobs/inputs.py), so a 7B-parameter
LM or a 50 GB array is priced by its own size, not by the default width of the lab's nets.
"""
from __future__ import annotations

from django.conf import settings

from ml.footprint import Footprint


class NotAdmitted(Exception):
    """Raised by jobs.services.submission (a create and a retry alike); jobs.api.errors answers it
    400 with `answer`, its numbers kept as numbers."""

    def __init__(self, answer: dict):
        super().__init__(answer["params"][0])
        self.answer = answer


def check(kind, params, inputs: dict | None = None) -> None:
    answer = refusal(kind, params, inputs)
    if answer is not None:
        raise NotAdmitted(answer)


def _gb(n: int) -> str:
    return f"{n / 10**9:.3g} GB" if n < 100 * 10**9 else f"{round(n / 10**9):,} GB"


def _lower(fields: list[str]) -> str:
    if not fields:
        return ""
    return "; lower " + (fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + " or " + fields[-1])


def refusal(kind, params, inputs: dict | None = None) -> dict | None:
    """None when the job fits, else the 400 answer: {"params": [reasons], "estimate": {...}}. `inputs`:
    {field: ml.inputs.ModelFiles | DataFile}, what the headers of the referenced files say."""
    fp: Footprint = kind.footprint(params, inputs or {})
    reasons, fields = [], []
    mem_limit, proc_limit, file_limit = (settings.LAB_ADMIT_MAX_MEMORY_BYTES, settings.LAB_ADMIT_MAX_PROCESSES,
                                         settings.LAB_ADMIT_MAX_FILES)
    if fp.memory_bytes > mem_limit:
        f = Footprint.fields(fp.memory)
        fields += f
        reasons.append(f"needs about {_gb(fp.memory_bytes)} of memory on the worker ({fp.explain_memory()}), "
                       f"the limit is {_gb(mem_limit)}{_lower(f)}")
    if fp.processes.value > proc_limit:
        fields += [x for x in fp.processes.fields if x not in fields]
        reasons.append(f"needs {fp.processes.value} processes on the worker ({fp.processes.text}), the limit is "
                       f"{proc_limit}{_lower(list(fp.processes.fields))}")
    if fp.file_count > file_limit:
        f = Footprint.fields(fp.files)
        fields += [x for x in f if x not in fields]
        reasons.append(f"writes about {fp.file_count} files ({fp.explain_files()}), the limit is {file_limit}{_lower(f)}")
    if not reasons:
        return None
    return {"params": reasons, "estimate": {"memory_bytes": fp.memory_bytes, "processes": fp.processes.value,
                                            "files": fp.file_count, "fields": fields}}
