import pytest
import torch

# One intra-op thread: on a shared 2-core CI box two spinning threads per process are slower, and
# a fixed thread count keeps float reductions (and so resume/DDP comparisons) in a fixed order.
torch.set_num_threads(1)


@pytest.fixture
def reporter_factory(tmp_path):
    from tests.ml.reporters import StopAfter

    def make(name="run", attempt=1, stop_after=None):
        return StopAfter(tmp_path / name, stop_after=stop_after, attempt=attempt)

    return make


TINY = {"data": {"type": "gmm"}, "width": 64, "depth": 2, "batch_size": 128, "lr": 3e-3, "warmup_steps": 10,
        "eval_every": 100000, "checkpoint_every": 100000, "log_every": 10, "eval_samples": 500, "ref_nfe": 100}


@pytest.fixture(scope="session")
def tiny_base():
    """A 2-D mixture, a 64-wide MLP: a few seconds per few hundred steps on one CPU thread."""
    return dict(TINY)


@pytest.fixture
def tiny(tiny_base):
    return dict(tiny_base)
