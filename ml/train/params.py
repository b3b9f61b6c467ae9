"""The `train` job's params: the single source of truth for the API, the form and the runner."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import ConfigDict, Field

from ml.data.toys import GMM_PRESET
from ml.dna.params import DnaTask
from ml.params import ArtifactRef, CommonParams, PRESETS, Strict
from ml.train.presets import PRESETS as EXAMPLES
from ml.sample.params import SAMPLER_NAMES

TeacherSampler = Literal[("auto",) + SAMPLER_NAMES]  # on a flow, euler/heun mean rf_euler/rf_heun


class GmmData(Strict):
    type: Literal["gmm"] = "gmm"
    means: list[list[float]] = Field(default_factory=lambda: [list(m) for m in GMM_PRESET["means"]], min_length=1,
                                     max_length=64, description="Component means, each [x, y].")
    stds: list[float] = Field(default_factory=lambda: list(GMM_PRESET["stds"]), min_length=1, max_length=64,
                              description="Isotropic standard deviation of each component.")
    weights: list[float] = Field(default_factory=lambda: list(GMM_PRESET["weights"]), min_length=1, max_length=64,
                                 description="Mixture weights (normalised).")

    def model_post_init(self, __context) -> None:
        if not (len(self.means) == len(self.stds) == len(self.weights)):
            raise ValueError("means, stds and weights need one entry per component")
        if any(len(m) != 2 for m in self.means):
            raise ValueError("each mean is a 2-D point [x, y]")
        if any(s <= 0 for s in self.stds) or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("stds must be > 0 and weights >= 0 with a positive sum")


class MoonsData(Strict):
    type: Literal["moons"] = "moons"


class CheckerboardData(Strict):
    type: Literal["checkerboard"] = "checkerboard"


class SpiralsData(Strict):
    type: Literal["spirals"] = "spirals"


class DigitsData(Strict):
    type: Literal["digits"] = "digits"


Data = Annotated[Union[GmmData, MoonsData, CheckerboardData, SpiralsData, DigitsData, DnaTask],
                 Field(discriminator="type")]

Objective = Literal["vp_eps", "vp_x0", "vp_v", "rectified_flow", "reflow", "distill", "slimflow",
                    "masked_diffusion", "oracle"]


class Params(CommonParams):
    model_config = ConfigDict(json_schema_extra={PRESETS: EXAMPLES})
    data: Data = Field(default_factory=MoonsData, description="What to learn: a 2-D toy, the 8x8 digits, or the DNA task.")
    objective: Objective = Field("rectified_flow", description=(
        "vp_*: VP diffusion predicting eps / x0 / v; rectified_flow: 1-RF; reflow: 2-RF on (noise, teacher ODE output) "
        "pairs; distill: k-step distillation of the teacher; slimflow: small one-step student; masked_diffusion, "
        "oracle: DNA task."))
    steps: int = Field(500, ge=1, le=1_000_000, description="Optimiser steps.")
    batch_size: int = Field(256, ge=1, le=65536, description="Global batch size (split over DDP processes).")
    lr: float = Field(1e-3, gt=0, le=1.0, description="Peak learning rate (after warm-up, before cosine decay).")
    optimizer: Literal["adamw", "lion"] = Field("adamw", description="AdamW, or Lion (use ~3-10x smaller lr).")
    weight_decay: float = Field(0.0, ge=0, le=10.0, description="Decoupled weight decay.")
    model: Optional[ArtifactRef] = Field(None, description="Teacher / previous model for reflow, distill, slimflow.")
    split: Literal[0, 1] = Field(0, description="Half of the labelled data an oracle learns from (DNA oracle).")
    arch: Literal["auto", "mlp", "unet"] = Field("auto", description="Network: auto = MLP for 2-D toys, UNet for digits.")
    width: int = Field(256, ge=4, le=4096, description="Network width: MLP hidden units; the UNet gets width/4 base channels.")
    depth: int = Field(3, ge=1, le=32, description="Network depth (MLP residual blocks; UNet blocks per level).")
    warmup_steps: int = Field(50, ge=0, le=100_000, description="Linear LR warm-up steps.")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="EMA of the weights; the EMA model is saved and sampled.")
    grad_clip: float = Field(1.0, ge=0, le=1e6, description="Clip the global grad norm to this (0: no clipping).")
    checkpoint_every: int = Field(250, ge=1, le=1_000_000, description="Save a resumable checkpoint every N steps.")
    eval_every: int = Field(250, ge=1, le=1_000_000, description="Evaluate (and draw a preview) every N steps.")
    log_every: int = Field(10, ge=1, le=100_000, description="Report loss / lr / grad-norm / samples/s every N steps.")
    timesteps: Literal["uniform", "u_shaped"] = Field(
        "uniform", description="Flow time distribution; u_shaped is the rfpp choice for reflow (Lee et al. 2024).")
    loss: Literal["l2", "pseudo_huber"] = Field("l2", description="Regression loss; pseudo_huber is the rfpp choice.")
    init_from_teacher: bool = Field(True, description="reflow/distill: start from the teacher's weights (rfpp).")
    distill_steps: int = Field(1, ge=1, le=64, description="k of k-step distillation (the student's NFE).")
    reflow_pairs: int = Field(4096, ge=16, le=1_000_000, description="(noise, teacher output) pairs generated.")
    teacher_nfe: int = Field(64, ge=1, le=2000, description="Teacher ODE evaluations per pair.")
    teacher_sampler: TeacherSampler = Field(
        "auto", description="Sampler for teacher pairs (the `sample` kind's names): auto = Heun for flows, "
                            "DPM-Solver++(2M) for VP.")
    slimflow_anneal: float = Field(0.5, ge=0, le=1,
                                   description="slimflow: fraction of steps of annealing reflow before distillation.")
    slimflow_guidance: float = Field(1.0, ge=0, le=100, description="slimflow: weight of the flow-guided term.")
    eval_samples: int = Field(1000, ge=16, le=100_000, description="Samples drawn per evaluation.")
    ref_nfe: int = Field(500, ge=2, le=5000, description="Steps of the reference solve for per-sample solver error.")
    world_size: int = Field(1, ge=1, le=64, description="DDP processes (one per GPU; gloo on CPU).")
