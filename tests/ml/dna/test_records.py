"""FASTA + CSV of your own (ml/dna/records.py): what is read, and what is refused naming the field and the fix."""
import numpy as np
import pytest
from pydantic import ValidationError

from ml.dna.params import DnaFiles
from ml.dna.records import DataError, fasta_data, load
from ml.train.params import Params


def write(tmp_path, fasta: str, csv: str | None = None):
    (tmp_path / "seqs.fa").write_text(fasta)
    spec = {"path": str(tmp_path / "seqs.fa"), "activity_column": "activity", "accessibility_column": "accessibility",
            "holdout": 0.25, "split_seed": 0, "labels": None}
    if csv is not None:
        (tmp_path / "labels.csv").write_text(csv)
        spec["labels"] = {"path": str(tmp_path / "labels.csv")}
    return spec


FASTA = ">chr1:10-18 enhancer one\nACGT\nacgt\n>r2\nTTTTAAAA\n>r3\nGGGGCCCC\n>r4\nACACACAC\n"


def test_records_read_ids_bases_and_labels_joined_by_id(tmp_path):
    r = load(write(tmp_path, FASTA, "ID,activity,accessibility\nr3,1.5,1\nchr1:10-18,-0.5,0\n"))
    assert r.ids == ("chr1:10-18", "r2", "r3", "r4") and r.length == 8
    assert r.x[0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and r.x[1].tolist() == [3] * 4 + [0] * 4
    assert r.activity[0] == -0.5 and r.activity[2] == 1.5 and np.isnan(r.activity[[1, 3]]).all()
    assert r.accessibility[2] == 1 and r.labelled_rows().tolist() == [0, 2]


def test_the_activity_column_is_chosen_and_accessibility_is_optional(tmp_path):
    spec = write(tmp_path, FASTA, "name,HepG2,K562\nr2,2.0,0.1\n")
    spec["activity_column"] = "HepG2"
    r = load(spec)
    assert r.activity[1] == 2.0 and r.accessibility is None


@pytest.mark.parametrize("fasta, csv, loc, words", [
    (">a\nACGT\n>b\nACG\n", None, ("data",), "sequences have lengths 3 to 4 bases (e.g. b has 3)"),
    (">a\nACGN\n>b\nACGT\n", None, ("data",), "1 record(s) hold letters other than A, C, G, T (the first: a has 'N' at base 4)"),
    (">a\nACGT\n>a\nACGT\n", None, ("data",), "record id 'a' appears twice"),
    ("ACGT\n", None, ("data",), "line 1 holds bases before the first '>' header"),
    ("", None, ("data",), "holds no FASTA records"),
    (FASTA, "id,score\nr2,1\n", ("data", "labels"), "has no column 'activity' (its header: id, score)"),
    (FASTA, "id,activity\nr9,1\n", ("data", "labels"), "1 row(s) name ids that are not records of the FASTA (e.g. 'r9')"),
    (FASTA, "id,activity\nr2,high\n", ("data", "labels"), "line 2: activity is 'high', not a number"),
    (FASTA, "id,activity,accessibility\nr2,1,2\n", ("data", "labels"), "accessibility is 2.0; give 0 (closed) or 1 (open)"),
    (FASTA, "id,activity\nr2,1\nr2,3\n", ("data", "labels"), "line 3: id 'r2' appears twice"),
])
def test_bad_files_are_refused_naming_the_field(tmp_path, fasta, csv, loc, words):
    with pytest.raises(DataError) as err:
        load(write(tmp_path, fasta, csv))
    assert err.value.loc == loc and words in str(err.value), str(err.value)


def test_params_name_the_field_of_a_bad_file(tmp_path):
    spec = write(tmp_path, FASTA, "id,score\nr2,1\n")
    with pytest.raises(ValidationError) as err:
        Params.model_validate({"objective": "oracle", "data": {"path": spec["path"], "labels": spec["labels"]}})
    (e,) = err.value.errors()
    assert e["loc"] == ("data", "labels") and e["msg"].startswith("labels.csv has no column 'activity'")
    with pytest.raises(ValidationError) as err:   # an oracle without labels
        Params.model_validate({"objective": "oracle", "data": {"path": spec["path"]}})
    assert err.value.errors()[0]["loc"] == ("data", "labels")
    p = Params.model_validate({"objective": "masked_diffusion", "data": {"artifact": 3}})   # labels optional here
    assert isinstance(p.data, DnaFiles)


def test_splits_are_fixed_by_split_seed_and_the_oracle_halves_are_disjoint(tmp_path):
    ids = [f"s{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    fasta = "".join(f">{i}\n{''.join(rng.choice(list('ACGT'), 10))}\n" for i in ids)
    csv = "id,activity\n" + "".join(f"{i},{k}\n" for k, i in enumerate(ids[:30]))   # 10 unlabelled records
    d = fasta_data(write(tmp_path, fasta, csv))
    (x0, y0, a0), (x1, y1, _) = d.labelled(0), d.labelled(1)
    assert a0 is None and len(y0) == len(y1) == 15 and not set(y0) & set(y1) and set(y0) | set(y1) == set(range(30))
    again = fasta_data(write(tmp_path, fasta, csv))
    assert np.array_equal(again.labelled(0)[1], y0) and np.array_equal(again.pretraining()[1], d.pretraining()[1])
    train, held = d.pretraining()
    assert len(held) == 10 and len(train) == 30   # the masked model learns from unlabelled records too
    record = d.describe()
    assert record["n_sequences"] == 40 and record["n_labelled"] == 30 and "path" not in record


def test_an_oracle_needs_eight_labelled_records(tmp_path):
    spec = write(tmp_path, FASTA, "id,activity\nr2,1\nr3,2\n")
    with pytest.raises(ValidationError) as err:
        Params.model_validate({"objective": "oracle", "data": {"path": spec["path"], "labels": spec["labels"]}})
    (e,) = err.value.errors()
    assert e["loc"] == ("data", "labels") and e["msg"] == "seqs.fa: 2 records have labels; an oracle needs at least 8 (4 in each half)"
