"""The DNA task's params, shared by `train` (data type `dna`) and `finetune`."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ml.params import Strict


class DnaTask(Strict):
    type: Literal["dna"] = "dna"
    length: int = Field(200, ge=8, le=2048, description="Sequence length in bases.")
    motifs: Optional[list[str]] = Field(
        None, max_length=32,
        description="Consensus motifs that drive the true activity (ACGT strings); omitted: the task's defaults.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the task itself (its generator and activity function).")
