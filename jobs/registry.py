"""Job kinds: name -> params schema, runner in `ml/`, queue, time limits.

The params schema (a pydantic model exported by `ml.<kind>` as `Params`) is the single
source of truth: the API validates with it, `/api/job-kinds/` exports its JSON Schema
for the dashboard's forms, and the runner receives the validated object.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

HOUR = 3600


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    description: str
    module: str
    queue: str = "gpu"
    soft_time_limit: int = 6 * HOUR
    time_limit: int = 6 * HOUR + 300
    # "module.function": (job) -> the params the runner gets; None: the job's params with their artifact
    # references resolved (jobs/resolve.py)
    inputs: str | None = None

    @cached_property
    def _module(self):
        return importlib.import_module(self.module)

    @property
    def params(self):
        return self._module.Params

    @property
    def runner(self):
        return self._module.run

    @cached_property
    def footprint(self):
        """`footprint(params) -> ml.footprint.Footprint`: what a job will take from its worker."""
        return importlib.import_module(f"{self.module}.footprint").footprint

    def params_schema(self) -> dict:
        return self.params.model_json_schema()

    def queue_for(self, params) -> str:
        # a job pinned to the CPU need not wait for a GPU node
        return "cpu" if getattr(params, "device", "auto") == "cpu" else self.queue


KINDS: dict[str, JobKind] = {
    k.name: k
    for k in [
        JobKind("sample", "Sample",
                "Draw samples from a diffusion or flow model with a fast ODE solver (DDIM, DPM-Solver(++), DEIS, "
                "PNDM, Euler/Heun, rectified flow). Exact error reported for analytic Gaussian mixtures.",
                "ml.sample", soft_time_limit=2 * HOUR, time_limit=2 * HOUR + 120),
        JobKind("train", "Train",
                "Train a model: VP diffusion, rectified flow, reflow, distillation, SlimFlow, masked discrete "
                "diffusion on DNA, reward oracles.",
                "ml.train", soft_time_limit=24 * HOUR, time_limit=24 * HOUR + 600),
        JobKind("finetune", "Fine-tune",
                "Reward fine-tuning of a masked discrete diffusion model (DRAKES) and inference-time baselines "
                "(best-of-N, classifier guidance, SMC, TDS, CFG).",
                "ml.finetune", soft_time_limit=12 * HOUR, time_limit=12 * HOUR + 600),
        JobKind("quantize", "Quantize",
                "Post-training weight quantization (RTN, GPTQ, decoupleQ, NUPES) with packed storage.",
                "ml.quantize", soft_time_limit=6 * HOUR, time_limit=6 * HOUR + 300),
    ]
}


# kinds the job system makes itself, never a user's params: not in /api/job-kinds/, refused by POST /api/jobs/
INTERNAL_KINDS: dict[str, JobKind] = {
    "upload": JobKind("upload", "Upload", "Validation of an uploaded model or dataset (POST /api/artifacts/): the "
                      "archive checked, the model loaded once, its files published as the artifact's folder.",
                      "ml.upload", queue="cpu", soft_time_limit=HOUR, time_limit=HOUR + 120,
                      inputs="jobs.uploads.job_inputs"),
}


def get_kind(name: str) -> JobKind:
    return KINDS[name] if name in KINDS else INTERNAL_KINDS[name]


def available_kinds() -> list[JobKind]:
    """The kinds whose `ml` module imports here (all four on a complete install)."""
    out = []
    for kind in KINDS.values():
        try:
            kind.params  # noqa: B018
        except ImportError:
            continue
        out.append(kind)
    return out
