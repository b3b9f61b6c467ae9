"""The `sample` job's params schema (API.md, "sample")."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from ml.params import ArtifactRef, CommonParams, PRESETS, Strict
from ml.sample.presets import PRESETS as EXAMPLES
from ml.sample.gmm import DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS

SAMPLER_NAMES = ("ddim", "dpm_solver_1", "dpm_solver_2", "dpm_solver_3", "dpm_solver_pp_2m", "dpm_solver_pp_3m",
                 "deis_1", "deis_2", "deis_3", "pndm", "plms", "euler", "heun", "rf_euler",
                 "rf_heun")


class GmmModel(Strict):
    """An analytic isotropic Gaussian mixture: its exact eps / x0 / velocity are known in closed form."""

    type: Literal["gmm"] = "gmm"
    means: list[Annotated[list[float], Field(min_length=1, max_length=4096)]] = Field(
        default=[list(m) for m in DEFAULT_MEANS], min_length=1, max_length=256,
        description="Component means, K lists of d numbers (any dimension d).")
    stds: list[Annotated[float, Field(gt=0, le=1e3)]] = Field(
        default=list(DEFAULT_STDS), min_length=1, max_length=256,
        description="Per-component isotropic standard deviation (> 0), K numbers.")
    weights: list[Annotated[float, Field(gt=0)]] = Field(
        default=list(DEFAULT_WEIGHTS), min_length=1, max_length=256,
        description="Mixture weights (> 0, normalised), K numbers.")
    prediction: Optional[Literal["eps", "x0", "v", "flow"]] = Field(
        None, description="What the analytic model predicts (the solvers convert); default: eps, or flow for the flow schedule.")

    @model_validator(mode="after")
    def _consistent(self):
        k = len(self.means)
        if len(self.stds) != k or len(self.weights) != k:
            raise ValueError("means, stds and weights must have the same number of components")
        if len({len(m) for m in self.means}) != 1:
            raise ValueError("all means must have the same dimension")
        return self


def _model_kind(v):
    t = v.get("type") if isinstance(v, dict) else getattr(v, "type", None)
    return "gmm" if t == "gmm" else "artifact"


ModelSpec = Annotated[Union[Annotated[GmmModel, Tag("gmm")], Annotated[ArtifactRef, Tag("artifact")]],
                      Discriminator(_model_kind)]


class Params(CommonParams):
    model_config = ConfigDict(json_schema_extra={PRESETS: EXAMPLES})
    model: ModelSpec = Field(GmmModel(),
                             description='{"type": "gmm", ...} (exact ground truth) or {"artifact": id} (a trained model).')
    schedule: Optional[Literal["vp_linear", "vp_cosine", "edm", "flow"]] = Field(
        None, description="Noise schedule of a gmm model (default vp_linear); a trained model uses its own.")
    sampler: Literal[SAMPLER_NAMES] = Field("dpm_solver_pp_2m", description="ODE solver.")
    nfe: int = Field(10, ge=1, le=1000, description="Network evaluations per sample: a budget spent exactly.")
    n_samples: int = Field(1000, ge=1, le=200_000, description="How many samples.")
    grid: Optional[Literal["uniform_t", "quadratic_t", "logsnr", "karras"]] = Field(
        None, description="Time grid: uniform in t, uniform in sqrt(t), uniform in log-SNR, or Karras rho=7; default: the sampler's paper's.")
    final_step: Literal["denoise", "t_eps"] = Field(
        "denoise", description="'denoise': end at t=0 with a first-order last step; 't_eps': stop at t_eps (still slightly noisy).")
    t_eps: Optional[float] = Field(None, gt=0, le=10, description="Last positive time of logsnr/karras grids and the end time with final_step='t_eps'; default per schedule (1e-3 VP/flow, 0.002 EDM).")
    save_noise: bool = Field(False, description="Also store noise.npy, each sample's starting point x_T.")
    batch_size: int = Field(50_000, ge=1, le=200_000, description="Samples per chunk (memory bound); results do not depend on it.")
    exact_subset: int = Field(128, ge=0, le=1024, description="gmm only: how many samples to check against the exact ODE (scipy).")
