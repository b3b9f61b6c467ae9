"""The `sample` job's params schema (docs/api.md; its fields in docs/kinds/sample.md).

The names a field takes come from the registries (samplers.py, schedules.py, grids.py, model.py), so a
new solver or grid is in the schema, the form and the API's 400s once it is registered. A masked
diffusion model (DNA) is sampled by a masked sampler; the ODE-only fields apply to ODE solvers only.
Which kind a trained model is, is known once its folder is: the params validate against its model.json
as soon as `path` is filled (the API at submit time, the worker, a terminal run).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ml.params import PRESETS, WHEN, ArtifactRef, CommonParams, Param, Strict
from ml.sample import diffusers_unet
from ml.sample.presets import PRESETS as EXAMPLES
from ml.sample.gmm import DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS
from ml.sample.grids import FINAL_STEPS, GRIDS
from ml.sample.model import PREDICTIONS
from ml.sample.samplers import MASKED_SAMPLERS, SAMPLERS
from ml.sample.schedules import SCHEDULES

SAMPLER_NAMES = tuple(SAMPLERS)                 # the ODE solvers (train's teacher_sampler takes these too)
MASKED_SAMPLER_NAMES = tuple(MASKED_SAMPLERS)
DEFAULT_SAMPLER = {"continuous": "dpm_solver_pp_2m", "masked": "mdlm_ddpm"}
# sampler None is the model's default: an ODE solver unless the model turns out to be masked
ODE = {"sampler": [None, *SAMPLER_NAMES]}


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
    prediction: Optional[Literal[PREDICTIONS]] = Field(
        None, description="What the analytic model predicts (the solvers convert); default: eps, or flow for the flow schedule.")

    @model_validator(mode="after")
    def _consistent(self):
        k = len(self.means)
        if len(self.stds) != k or len(self.weights) != k:
            raise ValueError("means, stds and weights must have the same number of components")
        if len({len(m) for m in self.means}) != 1:
            raise ValueError("all means must have the same dimension")
        return self


def _model_spec_tag(v):
    t = v.get("type") if isinstance(v, dict) else getattr(v, "type", None)
    return "gmm" if t == "gmm" else "artifact"


ModelSpec = Annotated[Union[Annotated[GmmModel, Tag("gmm")], Annotated[ArtifactRef, Tag("artifact")]],
                      Discriminator(_model_spec_tag)]


class Params(CommonParams):
    model_config = ConfigDict(json_schema_extra={PRESETS: EXAMPLES})
    model: ModelSpec = Field(GmmModel(),
                             description='{"type": "gmm", ...} (exact ground truth) or {"artifact": id} (a trained '
                                         'model, or an uploaded diffusers UNet folder).')
    sampler: Optional[Literal[SAMPLER_NAMES + MASKED_SAMPLER_NAMES]] = Field(
        None, description="An ODE solver for a gmm or a continuous model (default dpm_solver_pp_2m); "
                          "mdlm_ddpm (ancestral) for a masked diffusion model (its default).")
    nfe: int = Field(10, ge=1, le=1000, description="Network evaluations per sample: a budget spent exactly "
                                                    "(a masked sampler: nfe - 1 reverse steps and the final argmax).")
    n_samples: int = Field(1000, ge=1, le=200_000, description="How many samples.")
    batch_size: int = Field(50_000, ge=1, le=200_000, description="Samples per chunk (memory bound); an ODE "
                                                                  "solver's results do not depend on it.")
    schedule: Optional[Literal[tuple(SCHEDULES)]] = Param(
        None, when=ODE, description="Noise schedule of a gmm model (default vp_linear); a trained model uses its own.")
    grid: Optional[Literal[tuple(GRIDS)]] = Param(
        None, when=ODE, description="Time grid: uniform in t, uniform in sqrt(t), uniform in log-SNR, or Karras "
                                    "rho=7; default: the sampler's paper's.")
    final_step: Literal[FINAL_STEPS] = Param(
        "denoise", when=ODE, description="'denoise': end at t=0 with a first-order last step; 't_eps': stop at "
                                         "t_eps (still slightly noisy).")
    t_eps: Optional[float] = Param(None, when=ODE, gt=0, le=10,
                                   description="Last positive time of logsnr/karras grids and the end time with "
                                               "final_step='t_eps'; default per schedule (1e-3 VP/flow, 0.002 EDM).")
    save_noise: bool = Param(False, when=ODE, description="Also store noise.npy, each sample's starting point x_T.")
    exact_subset: int = Param(128, when=ODE, ge=0, le=1024,
                              description="gmm only: how many samples to check against the exact ODE (scipy).")

    @model_validator(mode="after")
    def _fits_the_model(self):
        known, cfg = True, None
        misfits = []
        if not isinstance(self.model, GmmModel):
            try:
                cfg = _known_config(self.model)
            except ValueError as exc:
                misfits = [("model", str(exc))]
            known = cfg is not None
        misfits = misfits or (self.misfits(cfg) if known else [])
        if misfits:
            raise ValidationError.from_exception_data(type(self).__name__, [
                InitErrorDetails(type=PydanticCustomError("wrong_model", message), loc=(name,),
                                 input=getattr(self, name)) for name, message in misfits])
        if known and self.sampler is None:  # written out, so a job's stored params say which sampler ran
            self.sampler = self.sampler_for(cfg)
        return self

    def sampler_for(self, cfg: dict | None) -> str:
        return self.sampler or DEFAULT_SAMPLER[model_kind(cfg)]

    def misfits(self, cfg: dict | None) -> list[tuple[str, str]]:
        """(field, why) for every choice the model cannot take; cfg is its model.json, None for a gmm."""
        what = "a gmm model" if cfg is None else "this model"
        if cfg is not None and model_kind(cfg) == "continuous" and cfg.get("prediction") not in PREDICTIONS:
            hint = " (an oracle scores sequences: sample the masked diffusion model it scores)" \
                if cfg.get("prediction") == "oracle" else ""
            return [("model", f"{what} predicts {cfg.get('prediction')!r} and cannot be sampled{hint}")]
        if model_kind(cfg) == "masked":
            out = [] if self.sampler in (None, *MASKED_SAMPLER_NAMES) else [
                ("sampler", f"{self.sampler!r} is an ODE solver for continuous models; this model is a masked "
                            f"diffusion model: choose {' or '.join(MASKED_SAMPLER_NAMES)}")]
            fields = type(self).model_fields
            out += [(name, "applies to ODE solvers only; this model is a masked diffusion model")
                    for name in sorted(self.model_fields_set) if fields[name].json_schema_extra
                    and fields[name].json_schema_extra.get(WHEN) == ODE
                    and getattr(self, name) != fields[name].get_default(call_default_factory=True)]
            if self.nfe < 2:
                out.append(("nfe", "a masked sampler needs at least 2 (one reverse step and the final argmax)"))
            return out
        if self.sampler in MASKED_SAMPLER_NAMES:
            return [("sampler", f"{self.sampler!r} samples masked diffusion models; {what} is continuous: "
                                f"choose an ODE solver such as {DEFAULT_SAMPLER['continuous']!r}")]
        return []


def model_kind(cfg: dict | None) -> str:
    """'masked' or 'continuous' for a model with this model.json (None: a gmm)."""
    return "masked" if (cfg or {}).get("prediction") == "masked" else "continuous"


def _known_config(model: ArtifactRef) -> dict | None:
    """The model.json of a resolved model folder; None while the folder is not known yet (the runner checks
    again once it has loaded the model)."""
    if model.path is None:
        return None
    if diffusers_unet.is_diffusers_folder(model.path):
        return diffusers_unet.read_config(model.path)  # its ValueError names what the folder lacks: a 400
    try:
        return json.loads((Path(model.path) / "model.json").read_text())
    except (OSError, ValueError):
        return None  # loading the model will say what is wrong with the folder
