"""Params of the `finetune` kind: DRAKES and the inference-time baselines on the DNA task."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import ConfigDict, Field

from ml.finetune.presets import PRESETS as EXAMPLES
from ml.params import PRESETS, ArtifactRef, CommonParams, Param

# where a field applies (ml.params.Param): the fine-tuning knobs to DRAKES, each baseline's own to it
DRAKES = {"method": ["drakes"]}


class Params(CommonParams):
    model_config = ConfigDict(json_schema_extra={PRESETS: EXAMPLES})
    model: ArtifactRef = Field(description="Pretrained masked-diffusion model (train objective 'masked_diffusion').")
    reward: ArtifactRef = Field(
        description="Reward oracle used for fine-tuning / guidance (train objective 'oracle', split 0).")
    eval_reward: ArtifactRef = Field(description="Held-out oracle (split 1), used only to score, as in the paper.")
    method: Literal["drakes", "best_of_n", "cg", "smc", "tds", "cfg", "pretrained"] = Field(
        "drakes", description="DRAKES fine-tuning, or a baseline on the frozen pretrained model ('pretrained' = plain "
                              "sampling).")
    # DRAKES (defaults from the authors' finetune_reward_bp.py)
    alpha: float = Param(1e-3, when=DRAKES, ge=0.0, le=100.0, description="KL weight; 0 = DRAKES without KL.")
    truncate_steps: int = Param(50, when=DRAKES, ge=1, le=1024, description="K: the last K reverse steps are "
                                "Gumbel-softmax relaxed and backpropagated through.")
    temperature: float = Param(1.0, when=DRAKES, advanced=True, gt=0.0, le=10.0,
                               description="Gumbel-softmax temperature tau.")
    steps: int = Param(100, when=DRAKES, ge=1, le=20000, description="Optimizer steps (the repo runs 1000).")
    sampling_steps: int = Field(128, ge=2, le=1024,
                                description="Reverse steps N of the sampler (training trajectories and final samples).")
    batch_size: int = Param(32, when=DRAKES, ge=1, le=1024, description="Trajectories per micro-batch.")
    grad_accum: int = Param(4, when=DRAKES, advanced=True, ge=1, le=64,
                            description="Micro-batches per optimizer step (repo: 32 x 4).")
    lr: float = Param(1e-4, when=DRAKES, gt=0.0, le=1.0, description="Adam learning rate.")
    grad_clip: float = Param(1.0, when=DRAKES, advanced=True, gt=0.0, le=1e3, description="Gradient-norm clip.")
    kl: Literal["repo", "textbook"] = Param(
        "repo", when=DRAKES, advanced=True,
        description="'repo': the estimator the authors' code computes; 'textbook': the masked-CTMC path KL "
                    "sum_t x_t[MASK] (m_t - m_s)/m_t KL(p || p_pre).")
    truncate_kl: bool = Param(False, when=DRAKES, advanced=True,
                              description="Count the KL only on the last K steps (repo flag; default off).")
    eval_every: int = Param(20, when=DRAKES, ge=0, le=100000,
                            description="Every so many steps, score eval_samples fresh samples (0 = never).")
    eval_samples: int = Param(64, when=DRAKES, advanced=True, ge=2, le=4096,
                              description="Samples per periodic evaluation.")
    checkpoint_every: int = Param(50, when={"method": ["drakes", "cfg"]}, advanced=True, ge=0, le=100000,
                                  description="Checkpoint period in optimizer steps (0 = never).")
    n_samples: int = Field(640, ge=2, le=20000, description="Samples drawn and scored at the end (paper: 640).")
    # baselines
    best_of_n: int = Param(16, when={"method": ["best_of_n"]}, ge=1, le=4096,
                           description="Best-of-N: candidates per returned sample (oracle calls = N x n_samples).")
    guidance_scale: float = Param(20.0, when={"method": ["cg", "tds"]}, ge=0.0, le=1e7,
                                  description="CG / TDS: scale of the oracle-gradient guidance.")
    guided_steps: Optional[int] = Param(
        None, when={"method": ["cg"]}, ge=1, le=1024,
        description="CG: guide only this many evenly spaced reverse steps (one oracle gradient per sample each; "
                    "oracle calls = guided_steps x n_samples); omitted: every step.")
    smc_alpha: float = Param(0.5, when={"method": ["smc", "tds"]}, gt=0.0, le=100.0,
                             description="SMC / TDS: temperature of the potential exp(v / alpha).")
    particles: int = Param(64, when={"method": ["smc", "tds"]}, ge=2, le=4096,
                           description="SMC / TDS: particles per resampling group (repo: 64).")
    cfg_w: float = Param(10.0, when={"method": ["cfg"]}, ge=0.0, le=100.0,
                         description="CFG weight w: (1 + w) cond - w uncond (repo notebook: 10).")
    cfg_train_steps: int = Param(300, when={"method": ["cfg"]}, ge=1, le=100000,
                                 description="CFG: steps to train the conditional model (from the pretrained weights) "
                                             "inside the job.")
    cfg_quantile: float = Param(0.95, when={"method": ["cfg"]}, advanced=True, gt=0.0, lt=1.0,
                                description="CFG: label 1 = activity label above this quantile of the data.")
    cfg_drop_prob: float = Param(0.1, when={"method": ["cfg"]}, advanced=True, ge=0.0, le=1.0,
                                 description="CFG: probability of the null label during training.")
