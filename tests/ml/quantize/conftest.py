import os

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _builtin_cache(tmp_path_factory):
    # trained builtin models are cached; a per-session folder keeps tests independent of ~/.cache
    old = os.environ.get("LAB_CACHE_DIR")
    os.environ["LAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("lab-cache"))
    yield
    if old is None:
        os.environ.pop("LAB_CACHE_DIR", None)
    else:
        os.environ["LAB_CACHE_DIR"] = old


@pytest.fixture
def correlated():
    """Random correlated calibration inputs X [256, 128] (a random mixing of Gaussians, plus noise) and a weight [64, 128]."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(128, 128, generator=g) / 128 ** 0.5
    X = torch.randn(256, 128, generator=g) @ A + 0.1 * torch.randn(256, 128, generator=g)
    W = torch.randn(64, 128, generator=g)
    return W, X


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # these tests run many tiny ops; on a shared 2-core box intra-op threads mostly spin (measured 10x slower)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
