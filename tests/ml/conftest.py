import pytest


@pytest.fixture(scope="session")
def blown_up_flow(tmp_path_factory):
    """The issue's training (lr 1.0, weight decay 10, moons) stopped after 3 steps, before its loss overflows:
    a saved rectified flow with finite weights ~1e6 whose samples overflow. Returns its folder."""
    import io

    from ml.reporting import PrintReporter
    from ml.train import run

    out = tmp_path_factory.mktemp("blown_up_flow")
    run({"data": {"type": "moons"}, "lr": 1.0, "weight_decay": 10, "steps": 3, "width": 16, "depth": 1,
         "batch_size": 32, "warmup_steps": 0, "eval_every": 1000, "eval_samples": 16, "ref_nfe": 10},
        PrintReporter(out, stream=io.StringIO(), quiet_progress=True))
    return out
