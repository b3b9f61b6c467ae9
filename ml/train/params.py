"""The `train` job's params: the single source of truth for the API, the form and the runner.

Three branches picked by `objective`, each with its own fields and defaults: the continuous objectives
(ContinuousParams), masked_diffusion and oracle on the DNA task. A field given to a branch it does not
belong to is a 400 naming it; within the continuous branch `Param(when=...)` says which objectives a
knob applies to."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from ml.data.toys import GMM_PRESET
from ml.data import arrays
from ml.dna.params import DnaData, DnaFiles, DnaTask, check_dna_files
from ml.params import (PRESETS, WHEN, ArtifactRef, CommonParams, DatasetRef, FactoryDefaults, Param, Strict,
                       field_error, not_applicable, tagged_by_type, type_tag)
from ml.train import diffusers_unet
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


class FileData(DatasetRef):
    """Your own data (ml/data/arrays.py): an .npy array [N, d] or [N, C, H, W] in [-1, 1], or PNG images (a zip
    of PNGs, or a folder of them); `holdout` of its rows are kept out of training for the evaluation's FD."""
    type: Literal["file"] = "file"
    holdout: float = Field(0.1, gt=0.0, le=0.5,
                           description="Fraction of the rows held out of training: the reference of the FD.")
    split_seed: int = Param(0, ge=0, le=2**31 - 1, advanced=True,
                            description="Seed of the held-out split (fixed per data set, not per job: keep it "
                                        "when you compare models).")


def data_tag(value) -> str | None:
    """A bare reference ({"artifact": id} or {"path": ...}) is a file of your own."""
    return type_tag(value, "file")


DATA_TYPES = (GmmData, MoonsData, CheckerboardData, SpiralsData, DigitsData, FileData)
Data = Annotated[Union[tuple(Annotated[c, Tag(c.model_fields["type"].default)] for c in DATA_TYPES)],
    Discriminator(data_tag, custom_error_type="data_type",
                  custom_error_message="give 'type' (gmm, moons, checkerboard, spirals, digits, file) or a "
                                       "file of your own as {\"artifact\": id}")]

Continuous = Literal["vp_eps", "vp_x0", "vp_v", "rectified_flow", "reflow", "distill", "slimflow"]
Objective = Literal[Continuous, "masked_diffusion", "oracle"]
TEACHER = ["reflow", "distill", "slimflow"]  # the objectives that learn from a teacher's ODE
VP = ["vp_eps", "vp_x0", "vp_v"]             # given a model: continue training that diffusers UNet
OWN_NET = ("arch", "width", "depth")          # the lab's own network; a diffusers UNet brings its own


class Training(CommonParams):
    """What every objective shares: the engine's knobs (ml/engine/fit.py)."""
    steps: int = Field(500, ge=1, le=1_000_000, description="Optimiser steps.")
    batch_size: int = Field(256, ge=1, le=65536, description="Global batch size (split over DDP processes).")
    lr: float = Field(1e-3, gt=0, le=1.0, description="Peak learning rate (after warm-up, before cosine decay).")
    optimizer: Literal["adamw", "lion"] = Field("adamw", description="AdamW, or Lion (use ~3-10x smaller lr).")
    weight_decay: float = Param(0.0, ge=0, le=10.0, advanced=True, description="Decoupled weight decay.")
    warmup_steps: int = Param(50, ge=0, le=100_000, advanced=True, description="Linear LR warm-up steps.")
    grad_clip: float = Param(1.0, ge=0, le=1e6, advanced=True,
                             description="Clip the global grad norm to this (0: no clipping).")
    checkpoint_every: int = Param(250, ge=1, le=1_000_000, advanced=True,
                                  description="Save a resumable checkpoint every N steps.")
    eval_every: int = Param(250, ge=1, le=1_000_000, advanced=True,
                            description="Evaluate (and draw a preview) every N steps.")
    log_every: int = Param(10, ge=1, le=100_000, advanced=True,
                           description="Report loss / lr / grad-norm / samples/s every N steps.")


class ContinuousParams(Training):
    """VP diffusion and rectified flows on 2-D toys, the 8x8 digits or data of your own (ml/train/loop.py)."""
    data: Data = Field(default_factory=MoonsData, description="What to learn: a 2-D toy, the 8x8 digits, or a file of "
                                                                   "your own ({\"artifact\": id}).",
                      json_schema_extra=tagged_by_type(*DATA_TYPES))
    objective: Continuous = Field("rectified_flow", description=(
        "vp_*: VP diffusion predicting eps / x0 / v; rectified_flow: 1-RF; reflow: 2-RF on (noise, teacher ODE output) "
        "pairs; distill: k-step distillation of the teacher; slimflow: small one-step student."))
    model: Optional[ArtifactRef] = Param(None, when={"objective": TEACHER + VP},
                                         description="Teacher / previous model for reflow, distill, slimflow; for "
                                                     "vp_*: a diffusers UNet folder to continue training.")
    arch: Literal["auto", "mlp", "unet"] = Field("auto",
                                                 description="Network: auto = MLP for 2-D toys, UNet for digits.")
    width: int = Field(256, ge=4, le=4096,
                       description="Network width: MLP hidden units; the UNet gets width/4 base channels.")
    depth: int = Field(3, ge=1, le=32, description="Network depth (MLP residual blocks; UNet blocks per level).")
    ema_decay: float = Param(0.999, ge=0, lt=1, advanced=True,
                             description="EMA of the weights; the EMA model is saved and sampled.")
    timesteps: Literal["uniform", "u_shaped"] = Param(
        "uniform", when={"objective": ["rectified_flow", "reflow", "slimflow"]}, advanced=True,
        description="Flow time distribution; u_shaped is the rfpp choice for reflow (Lee et al. 2024).")
    loss: Literal["l2", "pseudo_huber"] = Param("l2", advanced=True,
                                                description="Regression loss; pseudo_huber is the rfpp choice.")
    init_from_teacher: bool = Param(True, when={"objective": ["reflow", "distill"]}, advanced=True,
                                    description="reflow/distill: start from the teacher's weights (rfpp).")
    distill_steps: int = Param(1, ge=1, le=64, when={"objective": ["distill"]},
                               description="k of k-step distillation (the student's NFE).")
    reflow_pairs: int = Param(4096, ge=16, le=1_000_000, when={"objective": TEACHER},
                              description="(noise, teacher output) pairs generated.")
    teacher_nfe: int = Param(64, ge=1, le=2000, when={"objective": TEACHER}, advanced=True,
                             description="Teacher ODE evaluations per pair.")
    teacher_sampler: TeacherSampler = Param(
        "auto", when={"objective": TEACHER}, advanced=True,
        description="Sampler for teacher pairs (the `sample` kind's names): auto = Heun for flows, "
                    "DPM-Solver++(2M) for VP.")
    slimflow_anneal: float = Param(0.5, ge=0, le=1, when={"objective": ["slimflow"]}, advanced=True,
                                   description="slimflow: fraction of steps of annealing reflow before distillation.")
    slimflow_guidance: float = Param(1.0, ge=0, le=100, when={"objective": ["slimflow"]}, advanced=True,
                                     description="slimflow: weight of the flow-guided term.")
    eval_samples: int = Param(1000, ge=16, le=100_000, advanced=True, description="Samples drawn per evaluation.")
    ref_nfe: int = Param(500, ge=2, le=5000, advanced=True,
                         description="Steps of the reference solve for per-sample solver error.")
    world_size: int = Param(1, ge=1, le=64, advanced=True,
                            description="DDP processes in all (one per GPU; gloo on CPU), world_size / nodes per node.")
    nodes: int = Param(1, ge=1, le=16, advanced=True,
                       description="Workers the training spans (one torch.distributed job; docs/multinode.md).")

    @model_validator(mode="after")
    def _nodes_split_world(self):
        if self.world_size % self.nodes:
            raise field_error(("nodes",), f"world_size {self.world_size} does not split over {self.nodes} nodes: "
                                          f"give a world_size that is a multiple of nodes")
        if self.batch_size % self.world_size:  # each process takes an equal share of the global batch
            raise field_error(("batch_size",), f"batch_size {self.batch_size} does not split over world_size "
                                               f"{self.world_size} processes: give a multiple of world_size")
        return self

    @model_validator(mode="after")
    def _data_file(self):
        """A file of your own is read once its path is known (at submit time the job system has filled it in):
        a bad file is a 400 naming `data`, not a failed job."""
        if isinstance(self.data, FileData) and self.data.path is not None:
            try:
                shape = arrays.describe(self.data.path).shape
            except arrays.DataError as exc:
                raise field_error(("data",), str(exc)) from None
            if diffusers_unet.continues(self):
                return self  # the UNet's own architecture: _fits_the_unet checks the shape
            # arch auto takes the UNet for images: its one downsampling needs even sides
            odd = len(shape) == 4 and (shape[2] % 2 or shape[3] % 2)
            if (self.arch == "unet" and len(shape) != 4) or (self.arch != "mlp" and odd):
                raise field_error(("arch",), f"the UNet needs images [N, C, H, W] with even H and W; the data is "
                                             f"shaped {list(shape)} (use arch 'mlp')")
        return self

    @model_validator(mode="after")
    def _fits_the_unet(self):
        """A diffusers UNet to continue (ml/train/diffusers_unet.py), once its folder is known: a folder that is
        not one is a 400 naming `model`, data of another shape one naming `data`."""
        if not diffusers_unet.continues(self):
            return self
        fields = type(self).model_fields
        given = [n for n in OWN_NET if n in self.model_fields_set and getattr(self, n) != fields[n].default]
        if given:
            raise field_error((given[0],), "applies to the lab's own networks; a diffusers UNet is trained with "
                                           "its own architecture")
        if self.model.path is None:
            return self
        from ml.sample.diffusers_unet import is_diffusers_folder

        if not is_diffusers_folder(self.model.path):
            if (Path(self.model.path) / "model.json").is_file():  # a lab model (else: loading says what it lacks)
                raise field_error(("model",), diffusers_unet.NOT_A_FOLDER)
            return self
        try:
            shape = data_shape(self.data)
            why = None if shape is None else diffusers_unet.shape_misfit(self.model.path, shape)
        except ValueError as exc:  # the folder's config: what it lacks
            raise field_error(("model",), str(exc)) from None
        if why:
            raise field_error(("data",), why)
        return self


def data_shape(data) -> tuple | None:
    """The shape of one sample of `data`, without loading it (None: a file not known yet)."""
    if isinstance(data, FileData):
        return None if data.path is None else tuple(arrays.describe(data.path).shape[1:])
    return (1, 8, 8) if isinstance(data, DigitsData) else (2,)


class DnaTraining(Training):
    """The DNA task's objectives (ml/dna/train_job.py): their own defaults, sized for the DNA task."""
    data: DnaData = Field(default_factory=DnaTask, json_schema_extra=tagged_by_type(DnaTask, DnaFiles),
                          description="The synthetic DNA task (its keys take the task's defaults), or sequences of "
                                      "your own: a FASTA file with a CSV of labels.")
    model: Optional[ArtifactRef] = Field(None,
                                         description="Start from an earlier model of the same objective and size.")
    steps: int = Field(1000, ge=1, le=1_000_000, description="Optimiser steps.")
    batch_size: int = Field(128, ge=1, le=65536, description="Sequences per step.")
    lr: float = Field(1e-3, gt=0, le=1.0, description="Learning rate after the warm-up (then constant, as MDLM).")
    width: int = Field(64, ge=4, le=4096, description="Channels of the convolutional network.")
    warmup_steps: int = Param(100, ge=0, le=100_000, advanced=True, description="Linear LR warm-up steps.")
    checkpoint_every: int = Param(200, ge=0, le=1_000_000, advanced=True,
                                  description="Save a resumable checkpoint every N steps (0: only on a stop and "
                                              "at the end).")
    eval_every: int = Param(0, ge=0, le=1_000_000, advanced=True,
                            description="Evaluate every N steps (0: only the final model).")


    @model_validator(mode="after")
    def _dna_files(self):
        check_dna_files(self.data, labels_needed=self.objective == "oracle")
        return self


class MaskedDiffusionParams(DnaTraining):
    """Masked discrete diffusion (MDLM, Sahoo et al. 2024) on DNA; the EMA of its weights is saved."""
    objective: Literal["masked_diffusion"] = Field("masked_diffusion",
                                                   description="Masked discrete diffusion (MDLM) on the DNA task.")
    depth: int = Field(10, ge=1, le=32, description="Residual convolution blocks.")
    ema_decay: float = Param(0.999, ge=0, lt=1, advanced=True,
                             description="EMA of the weights; the EMA model is saved and sampled.")


class OracleParams(DnaTraining):
    """A reward oracle (activity regression + accessibility classification) on one half of the labelled data."""
    objective: Literal["oracle"] = Field("oracle", description="Reward oracle of the DNA task.")
    split: Literal[0, 1] = Field(0, description="Half of the labelled data the oracle learns from.")


BRANCHES = (ContinuousParams, MaskedDiffusionParams, OracleParams)
_ADAPTER = TypeAdapter(Annotated[Union[BRANCHES], Field(discriminator="objective")])


class _Objective(BaseModel):
    model_config = ConfigDict(extra="ignore")
    objective: Objective = "rectified_flow"


def _objectives(branch) -> tuple:
    return branch.model_fields["objective"].annotation.__args__


def _applies_to(branch, name) -> list:
    """The objectives a field of `branch` applies to: its `when` rule's, or all of the branch's."""
    extra = branch.model_fields[name].json_schema_extra
    rule = extra.get(WHEN, {}) if isinstance(extra, dict) else {}
    return list(rule.get("objective", _objectives(branch)))


def _named(exc: ValidationError, branch, objective) -> ValidationError:
    """A field of another branch given here reads as the `when` rules do ("applies only when objective is
    masked_diffusion (it is oracle)"), not as a typo ("extra inputs are not permitted")."""
    errors = []
    for err in exc.errors():
        owners = [o for b in BRANCHES if b is not branch and len(err["loc"]) == 1 and err["loc"][0] in b.model_fields
                  for o in _applies_to(b, err["loc"][0])]
        if err["type"] == "extra_forbidden" and owners:
            kind = not_applicable("objective", owners, objective)
        else:  # the message as pydantic wrote it
            kind = PydanticCustomError(err["type"], "{message}", {"message": err["msg"]})
        errors.append(InitErrorDetails(type=kind, loc=err["loc"], input=err.get("input")))
    return ValidationError.from_exception_data(exc.title, errors)


class Params:
    """The `train` kind's params: one of three typed branches picked by `objective` (a discriminated union:
    its JSON schema is a root `oneOf` with a `discriminator`). To the registry, the API and the CLI it looks
    like a pydantic model class: `Params.model_validate(dict)` returns the branch's instance,
    `Params.model_json_schema()` the union's schema, `Params(**kw)` validates kw."""

    branches = BRANCHES

    def __new__(cls, **kw):
        return cls.model_validate(kw)

    @classmethod
    def model_validate(cls, obj):
        if isinstance(obj, BRANCHES):
            return obj
        if not isinstance(obj, dict):
            return _ADAPTER.validate_python(obj)
        # pick the branch here rather than in the union, so an error is named by its field ("steps"),
        # not by the branch's tag ("masked_diffusion.steps"), and a missing objective takes its default
        objective = _Objective.model_validate(obj).objective
        branch = next(b for b in BRANCHES if objective in _objectives(b))
        try:
            return branch.model_validate(obj)
        except ValidationError as exc:
            raise _named(exc, branch, objective) from None

    @classmethod
    def model_json_schema(cls, **kw):
        return {**_ADAPTER.json_schema(**{"schema_generator": FactoryDefaults, **kw}), PRESETS: EXAMPLES}
