"""The `finetune` job kind: DRAKES reward fine-tuning of a masked diffusion DNA model, and the baselines
of the paper (best-of-N, CG, SMC, TDS, CFG), all scored with the same metrics (ml.dna.metrics)."""
from ml.finetune.params import Params
from ml.finetune.runner import run

__all__ = ["Params", "run"]
