"""The `sample` job kind: fast ODE solvers for diffusion and flow models, with an exact ground truth.

- `run(params, reporter)` / `Params`: the job (docs/kinds/sample.md); `python -m ml.sample --params p.json --out d`.
- `sample_model(net, config, noise, sampler, nfe, grid)`: samples of a trained `net(x, t)` (its model.json as
  `config`), for other job kinds (reflow pairs, evaluation).
- `solve(model, x_T, sampler, nfe, ...)`: one solver on a `ml.sample.model.Model` with an exact NFE budget.

Layout: schedules.py (alpha, sigma, lambda, rho of vp_linear / vp_cosine / edm / flow, for every kind), model.py (prediction
types and their conversions, NFE counter), grids.py (time grids, final-step convention), one file per solver
family (ddim, dpm_solver, dpm_solver_pp, deis, pndm, edm, rf), samplers.py (name -> solver, default grid,
NFE plan; the masked samplers), gmm.py / gmm_net.py (the exact mixture), exact.py (scipy reference ODE,
independent code), chunks.py (finished chunks in the checkpoint). Masked (DNA) models: ml/dna/sample_job.py.
"""
from ml.sample.params import Params
from ml.sample.runner import run, sample_model, solve

__all__ = ["Params", "run", "sample_model", "solve"]
