"""The DNA task's params, shared by `train` (data type `dna`) and `finetune`."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ml.params import Strict

Role = Literal["activator", "pioneer", "repressor"]


class DnaTask(Strict):
    type: Literal["dna"] = "dna"
    length: int = Field(200, ge=2, le=2048, description="Sequence length in bases.")
    motifs: Optional[list[str]] = Field(
        None, max_length=32,
        description="Consensus motifs that drive the true activity (ACGT strings); omitted: the task's defaults.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the task itself (its generator and activity function).")
    roles: Optional[list[Role]] = Field(
        None, max_length=32,
        description="Role of each motif in the true activity; omitted: first half activators, then one pioneer, "
                    "the rest repressors (defaults: 3 activators, 1 pioneer, 2 repressors).")
    sites_per_seq: float = Field(1.5, ge=0.0, le=20.0, description="Expected number of motif sites per natural sequence (grammar density).")
    consensus_prob: float = Field(0.9, ge=0.25, le=1.0, description="Probability that a motif site carries the consensus base at each position.")
    pair_prob: float = Field(0.3, ge=0.0, le=1.0, description="Probability that the first activator is followed by the second at spacing 10-14 (cooperative pair).")
    cpg_depletion: float = Field(0.25, ge=0.0, le=1.0, description="Background Markov chain: P(G | C) relative to other bases (CpG depletion).")
    markov: float = Field(0.3, ge=0.0, le=0.9, description="Background Markov chain: weight of each base's preferred successor (local structure).")
    gc: float = Field(0.42, ge=0.1, le=0.9, description="Background GC fraction.")
    n_data: int = Field(20000, ge=200, le=2_000_000, description="Generated labelled sequences (split into two halves for the two oracles).")
    label_noise: float = Field(0.3, ge=0.0, le=5.0, description="Std of Gaussian noise on activity labels (an assay's noise).")
    n_reference: int = Field(20000, ge=200, le=2_000_000, description="Held-out natural sequences whose top fraction defines 'natural highly active' for k-mer correlation.")
    top_fraction: float = Field(0.001, gt=0.0, le=0.5, description="Top fraction of the reference set by true activity used for the 3-mer correlation (paper: 0.1 %).")
