"""The API's answers as dataclasses. Their fields are the OpenAPI schema's properties (drf-spectacular's
components `Job`, `Artifact`, `Sweep`); tests/client/test_types.py fails when they drift apart."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

TERMINAL = ("succeeded", "failed", "cancelled")


def _known(cls, row: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in row.items() if k in names}


@dataclass
class JobData:
    id: int
    name: str
    kind: str
    params: dict
    status: str
    progress: float
    result: Any
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    owner: str
    project: int
    attempts: int
    max_attempts: int
    queue: str
    worker: str | None
    priority: str = "normal"
    queue_position: int | None = None
    waiting_reason: str | None = None
    input_artifacts: list[int] = field(default_factory=list)
    outputs_used_by: list[int] = field(default_factory=list)
    bytes_stored: int = 0
    deleted_inputs: list[dict] = field(default_factory=list)
    devices: int = 1
    reserved_workers: list[str] | None = None  # a multi-node or GPU job's, node 0 first, once admitted
    assigned_devices: dict[str, list] | None = None  # {worker: device indices} of its latest attempt

    @classmethod
    def from_api(cls, row: dict) -> "JobData":
        return cls(**_known(cls, row))


@dataclass
class Artifact:
    id: int
    name: str
    kind: str
    size: int
    sha256: str
    url: str
    partial: bool
    job: int | None
    job_name: str | None
    job_kind: str | None
    created_at: str

    @classmethod
    def from_api(cls, row: dict) -> "Artifact":
        return cls(**_known(cls, row))


@dataclass
class Event:
    """One event of a job's stream (docs/api.md): `type` status, progress, metric, log or artifact."""
    seq: int
    type: str
    data: dict
    ts: str | None = None

    @classmethod
    def from_api(cls, row: dict) -> "Event":
        return cls(seq=row["seq"], type=row["type"], data=row.get("data") or {}, ts=row.get("ts"))

    @property
    def terminal(self) -> bool:
        return self.type == "status" and self.data.get("status") in TERMINAL


SWEEP_TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class SweepData:
    """A sweep as GET /api/sweeps/<id>/ answers it; `trials` are job ids, `best` {"job", "value", "params"}."""
    id: int
    name: str
    kind: str
    params: dict
    space: dict
    method: str
    objective: Any
    max_trials: int
    parallel: int
    early_stop: dict | None
    seed: int
    project: int
    owner: str
    status: str
    error: str
    best: dict | None
    created_at: str
    finished_at: str | None
    trials: list[int] = field(default_factory=list)
    trial_rows: list[dict] = field(default_factory=list)

    @classmethod
    def from_api(cls, row: dict) -> "SweepData":
        return cls(**_known(cls, row))
