"""The params of an upload's validation job, written by the job system (POST /api/artifacts/), never by a user."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

MODEL_FORMATS = ("diffusers", "transformers", "lab")
DATASET_FORMATS = ("npy", "text", "fasta", "csv")
FORMATS = {"model": MODEL_FORMATS, "dataset": DATASET_FORMATS}


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_unpacked_bytes: int = Field(64 << 30, gt=0)
    max_ratio: float = Field(100.0, gt=1)
    max_files: int = Field(10_000, gt=0)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["model", "dataset"]
    format: Literal["diffusers", "transformers", "lab", "npy", "text", "fasta", "csv"]
    file: str = Field(description="the uploaded file's name (the artifact's)")
    # the uploaded file on this machine: filled in by the job system (or given to a terminal run)
    path: Optional[str] = None
    limits: Limits = Limits()
