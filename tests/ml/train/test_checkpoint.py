import json

import pytest
import torch

from ml.train.checkpoint import load_checkpoint, save_checkpoint
from ml.train.optim import make_ema, make_optimizer


def _setup(name):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.SiLU(), torch.nn.Linear(8, 3))
    return net, make_ema(net), make_optimizer(name, net.parameters(), 1e-2), torch.Generator().manual_seed(5)


def _steps(net, opt, g, n):
    for _ in range(n):
        x = torch.randn(16, 3, generator=g)
        loss = (net(x) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("optimizer", ["adamw", "lion"])
def test_restored_state_continues_exactly_like_the_original(tmp_path, optimizer):
    net, ema, opt, g = _setup(optimizer)
    _steps(net, opt, g, 3)
    save_checkpoint(tmp_path, 3, net, ema, opt, g, {"note": "x"})
    _steps(net, opt, g, 4)
    expected = [p.detach().clone() for p in net.parameters()]

    net2, ema2, opt2, g2 = _setup(optimizer)  # fresh objects, different generator position
    step, extra = load_checkpoint(tmp_path, net2, ema2, opt2, g2, "cpu")
    assert (step, extra) == (3, {"note": "x"})
    _steps(net2, opt2, g2, 4)
    # same ops on the same data in the same order: bitwise equal
    for a, b in zip(expected, net2.parameters()):
        assert torch.equal(a, b.detach())


def test_only_the_newest_complete_checkpoint_is_kept(tmp_path):
    net, ema, opt, g = _setup("adamw")
    save_checkpoint(tmp_path, 1, net, ema, opt, g, {})
    save_checkpoint(tmp_path, 2, net, ema, opt, g, {})
    assert json.loads((tmp_path / "latest.json").read_text())["step"] == 2
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-2"]
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pt"))


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    net, ema, opt, g = _setup("adamw")
    assert load_checkpoint(tmp_path, net, ema, opt, g, "cpu") is None
