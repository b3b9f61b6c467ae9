import pytest
import torch

from ml.dna.smoke import smoke_artifacts

# the smoke nets are tiny: one thread avoids oversubscription on shared CI cores (10x slower otherwise)
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """Smoke MDLM + two oracles (L=32), trained once per session; tests/ml/finetune shares the cache folder."""
    return smoke_artifacts(tmp_path_factory.getbasetemp() / "dna_smoke")
