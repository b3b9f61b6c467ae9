import pytest

from ml.train import run


def test_two_gloo_processes_follow_the_single_process_loss_curve(reporter_factory, tiny):
    params = {**tiny, "steps": 30, "log_every": 1, "batch_size": 128, "eval_samples": 64, "ref_nfe": 10}
    one = reporter_factory("one")
    r1 = run(params, one)
    two = reporter_factory("two")
    r2 = run({**params, "world_size": 2}, two)
    assert r2["world_size"] == 2
    c1, c2 = one.metrics("loss"), two.metrics("loss")
    assert [s for s, _ in c1] == [s for s, _ in c2] == list(range(1, 31))
    # same global batch, split 64 + 64: only the order of float32 sums differs (mean of two half-means,
    # gradient all-reduce), ~1e-7 relative per step; 30 Adam steps amplify it at most a few orders
    for (_, a), (_, b) in zip(c1, c2):
        assert b == pytest.approx(a, rel=1e-4)
    assert r2["final_loss"] == pytest.approx(r1["final_loss"], rel=1e-4)
    assert (two.out_dir / "model.safetensors").exists()


def test_batch_must_split_evenly_over_processes(reporter_factory, tiny):
    with pytest.raises(ValueError, match="batch_size 127 does not split over world_size 2 processes"):
        run({**tiny, "steps": 1, "batch_size": 127, "world_size": 2}, reporter_factory())
