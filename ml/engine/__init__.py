"""The training engine every kind that trains runs on (train, the DNA objectives, DRAKES, CFG).

- fit.py: `fit(plan, net, opt, loss, reporter, generator, ...)`, the one loop (warm-up and schedule,
  accumulation, clipping, EMA, DDP-synchronised stop, checkpoints with exact resume, metrics, non-finite
  checks); a kind supplies its loss and its evaluation
- optim.py: optimisers (AdamW, Adam, Lion), the LR schedule, the weight EMA; lion.py: Lion
"""
from ml.engine.fit import Fitted, Plan, every, fit, smoothed
from ml.engine.optim import ema_update, lr_at, make_ema, make_optimizer

__all__ = ["Fitted", "Plan", "every", "fit", "smoothed", "ema_update", "lr_at", "make_ema", "make_optimizer"]
