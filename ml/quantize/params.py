"""Params of the `quantize` job kind (the schema the REST API validates and the dashboard renders)."""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import ConfigDict, Field

from ml.params import PRESETS, ArtifactRef, CommonParams, Param, Strict
from ml.quantize.presets import PRESETS as EXAMPLES


class BuiltinModel(Strict):
    builtin: Literal["char_transformer", "digits_mlp"] = Field(
        "digits_mlp", description="A benchmark model trained in-process (cached): the char-level transformer on "
                                  "CPython's pydoc topics (metric: perplexity) or the digits MLP (metric: accuracy).")
    size: Literal["small", "full"] = Field(
        "small", description="'full' is the benchmark config (char transformer: 0.43 M params, ~35 s to train); "
                             "'small' trains in seconds.")


class TextRef(Strict):
    """An uploaded text (format `text`). The job system fills `path` with its file after checking the user
    may read it; a terminal run gives `path` directly."""

    artifact: Optional[int] = Field(None, ge=1, description="Id of a text artifact (POST /api/artifacts/, format text).")
    path: Optional[str] = Field(None, max_length=4096, description="The UTF-8 text file (terminal runs).")

    def model_post_init(self, __context) -> None:
        if self.artifact is None and self.path is None:
            raise ValueError("give 'artifact' (a text id) or 'path' (a file)")


class DecoupleQOptions(Strict):
    max_iter: int = Field(4, ge=1, le=20, description="Rounds: 1 is GPTQ on the min-max grid, each later one an "
                                                      "integer step then a float step (the repo: 4).")
    round_fn: Literal["gptq", "train"] = Field(
        "gptq", description="Integer step: GPTQ rounding on the fixed grid, or projected gradient descent then rounding.")
    pgd_steps: int = Field(50, ge=0, le=2000, description="'train' integer step: projected Adam steps before rounding.")
    inner_steps: int = Field(5, ge=0, le=100, description="'train' integer step: projected steps on the free columns "
                                                          "after each column is fixed.")
    block_stage: bool = Field(True, description="Second stage: after each block is quantized, tune its scales, zeros "
                                                "and norms against the fp block's output on the same inputs.")
    block_epochs: int = Field(4, ge=0, le=100, description="Epochs of the block stage over the calibration set "
                                                           "(one Adam step per sample, as the repo).")
    round_block: int = Field(1, ge=1, le=4096, description="'train' integer step: columns fixed together before the "
                                                           "next projected steps (1 = column by column, as the repo).")
    shrink_search: bool = Field(
        True, description="Round 2 starts from the per-row shrunk min-max grid with the lowest H-weighted error, "
                          "refitted by the float step (the repo); off: from the float step of round 1's codes.")
    block_lr: float = Field(1e-3, gt=0, le=1.0, description="Adam learning rate of the block stage.")
    train_norms: bool = Field(True, description="Block stage: also tune the norms' weights and biases (--train-LN).")
    train_bias: bool = Field(False, description="Block stage: also tune the quantized layers' biases (--train-bias).")


class Params(CommonParams):
    model_config = ConfigDict(json_schema_extra={PRESETS: EXAMPLES})
    model: Union[BuiltinModel, ArtifactRef] = Field(
        default_factory=BuiltinModel,
        description="{'builtin': 'char_transformer' | 'digits_mlp'} or a model artifact {'artifact': id}.")
    method: Literal["rtn", "gptq", "decoupleq", "nupes"] = Field("gptq", description="Quantization algorithm.")
    bits: Literal[2, 3, 4, 8] = Field(4, description="Bits per weight code.")
    group_size: int = Field(64, ge=-1, le=65536, description="Input columns sharing one scale/zero; -1 = per output channel.")
    symmetric: bool = Param(False, when={"method": ["rtn", "gptq", "decoupleq"]},
                            description="Symmetric grid (scale only, no zero); NUPES is always symmetric.")
    act_order: bool = Param(True, when={"method": ["gptq", "decoupleq"]},
                            description="GPTQ/decoupleQ: process columns by decreasing Hessian diagonal.")
    skip: list[str] = Param(
        default_factory=list, max_length=64, advanced=True,
        description="Layer-name patterns (fnmatch, e.g. 'head' or 'blocks.*.fc') left in full precision.")
    include_conv1d: bool = Param(
        True, advanced=True,
        description="Also quantize Conv1d layers (DNA models), as linear maps of their unfolded input.")
    int8_matmul: bool = Param(
        False, when={"bits": [8], "symmetric": [True]}, advanced=True,
        description="8-bit symmetric per-channel only: run linear layers as int8 x int8 matmuls with activations "
                    "quantized per token at run time.")
    eval_reward: Optional[ArtifactRef] = Param(
        None, advanced=True,
        description="DNA generators: the held-out oracle that scores samples before and after (default: the eval "
                    "oracle a finetune model records, else the task's true activity).")
    n_samples: int = Param(256, ge=16, le=8192, advanced=True,
                           description="DNA generators: sequences sampled (same seed) from the fp and the quantized "
                                       "model to score.")
    sampling_steps: Optional[int] = Param(None, ge=1, le=4096, advanced=True,
                                          description="DNA generators: reverse steps per sample (default: the model's "
                                                      "own, as `sample`).")
    calibration: Optional[TextRef] = Param(
        None, description="transformers models: the text to calibrate on ({'artifact': id} of format text); its "
                          "last 10 % of tokens is held out for the perplexity before and after.")
    seq_len: int = Param(128, ge=8, le=8192, advanced=True,
                         description="transformers models: tokens per calibration and evaluation window (at most "
                                     "the model's context).")
    n_calibration: int = Field(128, ge=1, le=4096, description="Calibration samples (windows, images, noised points).")
    decoupleq: DecoupleQOptions = Param(default_factory=DecoupleQOptions, when={"method": ["decoupleq"]},
                                        description="decoupleQ options.")
    nupes_steps: int = Param(100, ge=0, le=5000, when={"method": ["nupes"]},
                             description="NUPES: Adam steps learning the exponent and the weights.")
