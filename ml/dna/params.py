"""The DNA data's params: the synthetic task (`dna`, shared by `train` and `finetune`) or FASTA files of your own."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import Discriminator, Field, Tag

from ml.params import DatasetRef, Strict, field_error, type_tag

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


class DnaFiles(DatasetRef):
    """Sequences of your own (ml/dna/records.py): a FASTA file (`artifact` / `path`) and, for an oracle, a CSV of
    labels with a header row: an `id` (or `name`) column naming FASTA records, the activity column, and
    optionally an accessibility column (0/1)."""
    type: Literal["fasta"] = "fasta"
    labels: Optional[DatasetRef] = Field(None, description="CSV of labels (needed by objective 'oracle').")
    activity_column: str = Field("activity", min_length=1, max_length=200,
                                 description="CSV column of the measured activity (e.g. Gosai et al.'s HepG2).")
    accessibility_column: str = Field("accessibility", min_length=1, max_length=200,
                                      description="CSV column of accessibility (0/1); used when the CSV has it.")
    holdout: float = Field(0.1, gt=0.0, le=0.5,
                           description="masked_diffusion: fraction of the sequences held out for its validation NELBO.")
    split_seed: int = Field(0, ge=0, le=2**31 - 1, description=(
        "Seed of the splits (the held-out sequences, the oracles' two halves): fixed per data set, so the "
        "split-0 and split-1 oracles learn from disjoint halves."))


def _dna_tag(value) -> str:
    """A bare reference ({"artifact": id} or {"path": ...}) is a FASTA file; no type and no file, the task."""
    return type_tag(value, "fasta", "dna")


DnaData = Annotated[Union[Annotated[DnaTask, Tag("dna")], Annotated[DnaFiles, Tag("fasta")]],
                    Discriminator(_dna_tag, custom_error_type="data_type",
                                  custom_error_message="give 'type' 'dna' (the synthetic task) or a FASTA file "
                                                       "as {\"artifact\": id}")]


def check_dna_files(data, labels_needed: bool) -> None:
    """A FASTA file (and its CSV) is read once its path is known: a bad file is a 400 naming the field."""
    if not isinstance(data, DnaFiles):
        return
    from ml.dna import records

    if labels_needed and data.labels is None:
        raise field_error(("data", "labels"), "objective 'oracle' learns from labels: give a CSV as "
                                              "{\"artifact\": id} (columns id, activity[, accessibility])")
    if data.path is None:
        return
    try:
        _, _, labelled = records.describe(data)
        if labels_needed:
            records.check_labelled(Path(data.path).name, labelled)
    except records.DataError as exc:
        raise field_error(exc.loc, str(exc)) from None
