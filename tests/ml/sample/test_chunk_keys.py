"""A sample job's chunk checkpoint is keyed by ml/params.py's one params hash, and one written before that
hash was shared (its JSON had spaces) still resumes: a job running across the upgrade keeps its chunks."""
import hashlib
import json

import torch

from ml import checkpoint
from ml.params import params_hash, parse
from ml.sample import chunks
from ml.sample.params import Params


def test_chunks_resume_under_the_shared_hash_and_the_key_before_it_and_not_under_other_params(tmp_path):
    p, other = parse(Params, {"nfe": 10}), parse(Params, {"nfe": 12})
    x = torch.arange(6.0).reshape(3, 2)
    chunks.keep(tmp_path, 0, {"x": x}, p)
    assert checkpoint.load(tmp_path).meta["key"] == params_hash(p.model_dump(mode="json"))
    assert torch.equal(chunks.finished(tmp_path, p)[0]["x"], x)
    assert chunks.finished(tmp_path, other) == []

    before = hashlib.sha256(json.dumps(p.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
    assert before != params_hash(p.model_dump(mode="json"))
    checkpoint.save(tmp_path / "old", 1, {"0/x": x}, {"key": before, "chunks": 1})
    assert torch.equal(chunks.finished(tmp_path / "old", p)[0]["x"], x)
