"""The one checkpoint format (ml/checkpoint.py): a step exists once its manifest names it."""
import json

import pytest
import torch

from ml import checkpoint
from ml.finite import Diverged


def _net():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_pack_unpack_restores_weights_optimizer_and_generators(tmp_path):
    net, g = _net(), torch.Generator().manual_seed(7)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.rand(3, generator=g)
    checkpoint.save(tmp_path, 1, *checkpoint.pack({"net": net}, opt, {"data": g}))
    want_next = torch.rand(5, generator=g)
    other, g2 = torch.nn.Linear(3, 2), torch.Generator().manual_seed(99)
    opt2 = torch.optim.AdamW(other.parameters(), lr=1e-2)
    ck = checkpoint.load(tmp_path)
    checkpoint.unpack(ck, {"net": other}, opt2, {"data": g2})
    assert ck.step == 1
    assert torch.equal(other.weight, net.weight)
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.rand(5, generator=g2), want_next)  # the stream goes on where it was saved


def test_a_step_without_manifest_is_not_there(tmp_path):
    checkpoint.save(tmp_path, 10, {"w": torch.ones(2)}, {"n": 10})
    # a kill after step 20's files but before its manifest: a resume still sees step 10, whole
    (tmp_path / "step-20").mkdir()
    (tmp_path / "step-20" / checkpoint.TENSORS).write_bytes(b"half")
    ck = checkpoint.load(tmp_path)
    assert ck.step == 10 and ck.meta == {"n": 10} and torch.equal(ck.tensors["w"], torch.ones(2))
    checkpoint.save(tmp_path, 20, {"w": torch.zeros(2)}, {"n": 20})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "step-20"]


def test_carry_keeps_earlier_parts(tmp_path):
    for k in range(3):
        checkpoint.save(tmp_path, k + 1, {f"chunk_{k}": torch.full((2,), float(k))}, {"chunks": k + 1}, carry=True)
    ck = checkpoint.load(tmp_path)
    assert ck.step == 3 and ck.meta == {"chunks": 3} and sorted(ck.tensors) == ["chunk_0", "chunk_1", "chunk_2"]
    assert json.loads((tmp_path / checkpoint.MANIFEST).read_text())["parts"] == ["step-1", "step-2", "step-3"]


def test_a_diverged_state_never_replaces_a_good_one(tmp_path):
    checkpoint.save(tmp_path, 1, {"w": torch.ones(2)})
    with pytest.raises(Diverged, match="at step 2"):
        checkpoint.save(tmp_path, 2, {"w": torch.tensor([1.0, float("nan")])})
    assert checkpoint.load(tmp_path).step == 1
