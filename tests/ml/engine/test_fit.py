"""The engine under every kind that trains: Cancel stops each at the requested step with a checkpoint of
that step, and a run stopped and resumed ends bit for bit where an uninterrupted one ends."""
import numpy as np
import pytest
import torch

from ml import checkpoint
from ml.finetune import run as finetune
from ml.modelio import load_model
from ml.reporting import Cancelled
from ml.train import run as train
from tests.ml.reporters import StopAfter

# one intra-op thread: the same float reductions in the same order, so resumed runs can be compared bitwise
torch.set_num_threads(1)

TASK = {"length": 16, "n_data": 400, "n_reference": 400}
MDLM = {"objective": "masked_diffusion", "data": TASK, "batch_size": 16, "width": 16, "depth": 2, "steps": 12,
        "warmup_steps": 4, "checkpoint_every": 5, "eval_every": 4}
ORACLE = {"objective": "oracle", "data": TASK, "batch_size": 16, "width": 16, "steps": 12, "checkpoint_every": 5}
FLOW = {"data": {"type": "gmm"}, "width": 32, "depth": 1, "batch_size": 64, "steps": 12, "warmup_steps": 4,
        "checkpoint_every": 5, "eval_every": 4, "eval_samples": 64, "ref_nfe": 10}
FT = {"sampling_steps": 8, "n_samples": 16}
DRAKES = dict(FT, method="drakes", alpha=0.05, truncate_steps=2, batch_size=4, grad_accum=2, steps=6, eval_every=2,
              eval_samples=8, checkpoint_every=4)
CFG = dict(FT, method="cfg", cfg_train_steps=6)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A small masked-diffusion model and two oracles for the finetune runs."""
    root = tmp_path_factory.mktemp("inputs")
    train(dict(MDLM, steps=30, checkpoint_every=0, eval_every=0), StopAfter(root / "m"))
    for split in (0, 1):
        train(dict(ORACLE, steps=20, split=split, seed=split), StopAfter(root / f"o{split}"))
    return {"model": {"path": str(root / "m")}, "reward": {"path": str(root / "o0")},
            "eval_reward": {"path": str(root / "o1")}}


def jobs(inputs):
    return {
        "train_continuous": (train, FLOW),
        "masked_diffusion": (train, MDLM),
        "oracle": (train, ORACLE),
        "drakes": (finetune, dict(DRAKES, **inputs)),
        "cfg": (finetune, dict(CFG, **inputs)),
    }


KINDS = ["train_continuous", "masked_diffusion", "oracle", "drakes", "cfg"]


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_stops_at_the_requested_step_and_leaves_its_checkpoint(kind, inputs, tmp_path):
    runner, params = jobs(inputs)[kind]
    rep = StopAfter(tmp_path, stop_after=3)  # 3 is before every periodic checkpoint (every 4, 5 or 50)
    with pytest.raises(Cancelled, match=r"^stopped at step 3; checkpoint saved$"):
        runner(params, rep)
    assert rep.progress_done() == [1, 2, 3]
    assert checkpoint.load(tmp_path / "checkpoint").step == 3
    assert not (tmp_path / "model.safetensors").exists()


def _stopped_and_resumed(runner, params, folder, stop_after):
    with pytest.raises(Cancelled):
        runner(params, StopAfter(folder, stop_after=stop_after))
    rep = StopAfter(folder, attempt=2)
    result = runner(params, rep)
    assert f"resumed from step {stop_after}, attempt 2" in rep.logs()
    assert rep.progress_done()[0] == stop_after + 1
    return result


# stopped past a periodic checkpoint (5 for masked_diffusion, 4 for DRAKES, none for CFG's 6 steps) and, for the
# first two, after an evaluation that drew from the run's generator: only a restored generator lets the rest of
# the run (and the final samples) draw the same numbers
@pytest.mark.parametrize("kind, stop_after", [("masked_diffusion", 7), ("drakes", 3), ("cfg", 5)])
def test_a_stopped_and_resumed_run_ends_bitwise_where_an_uninterrupted_one_ends(kind, stop_after, inputs, tmp_path):
    runner, params = jobs(inputs)[kind]
    full = runner(params, StopAfter(tmp_path / "full"))
    resumed = _stopped_and_resumed(runner, params, tmp_path / "split", stop_after)
    if kind != "cfg":  # cfg saves no model: its conditional net lives only inside the job
        a, _ = load_model(tmp_path / "full")
        b, _ = load_model(tmp_path / "split")
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    if runner is finetune:  # the final samples come from the generator the training left behind
        assert np.array_equal(np.load(tmp_path / "full" / "samples.npy"), np.load(tmp_path / "split" / "samples.npy"))
        assert resumed["true_activity_median"] == full["true_activity_median"]
    else:
        assert resumed["final_loss"] == full["final_loss"] and resumed["eval"] == full["eval"]


def test_accumulated_micro_batches_take_the_step_of_their_joint_batch(tmp_path):
    """grad_accum k over k slices of a batch is one step on the whole batch: the mean of the slice gradients is
    the gradient of the mean. Equal up to float summation order (float32, 1e-6 relative)."""
    from ml.engine import Plan, fit, make_optimizer

    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    nets, k = {}, 4
    for accum in (1, k):
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        opt = make_optimizer("adamw", net.parameters(), 1e-2)
        calls = []

        def loss(model, step, g, accum=accum, calls=calls):
            part = x if accum == 1 else x.chunk(k)[len(calls) % k]
            calls.append(step)
            return model(part).pow(2)

        fit(Plan(steps=3, lr=1e-2, grad_accum=accum, grad_clip=1.0), net, opt, loss, StopAfter(tmp_path / str(accum)),
            torch.Generator().manual_seed(0))
        assert calls == [s for s in range(3) for _ in range(accum)]
        nets[accum] = net
    for a, b in zip(nets[1].parameters(), nets[k].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
