"""The `sample` job kind: fast ODE solvers for diffusion and flow models (DPM-Solver(++), DEIS, PNDM,
DDIM, EDM Euler/Heun, rectified-flow Euler), with an exact Gaussian-mixture ground truth."""
from ml.sample.params import Params
from ml.sample.runner import run, sample_model, solve

__all__ = ["Params", "run", "sample_model", "solve"]
