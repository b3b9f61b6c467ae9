"""Pieces shared by the params schemas of every job kind.

Each kind's schema is a pydantic v2 model in `ml/<kind>/params.py`: it is the
single source of truth, validated by the REST API, exported as JSON Schema for
the dashboard form, and handed to the runner.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    # unknown keys are a 400, not silently ignored: a typo in a param must not run a week-long job
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CommonParams(Strict):
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed; the same seed gives the same result.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to run: 'auto' takes a GPU when the worker has one.")


class ArtifactRef(Strict):
    """A model made by an earlier job. The job system fills `path` with the folder
    holding `model.safetensors` + `model.json` after checking the user owns it; a
    terminal run gives `path` directly."""

    artifact: Optional[int] = Field(None, ge=1, description="Id of a model artifact made by one of your jobs.")
    path: Optional[str] = Field(None, max_length=4096, description="Folder with model.safetensors + model.json (terminal runs).")

    def model_post_init(self, __context) -> None:
        if self.artifact is None and self.path is None:
            raise ValueError("give 'artifact' (a model id) or 'path' (a folder)")


def parse(params_cls, params):
    """Accept the schema object itself or a plain dict."""
    if isinstance(params, params_cls):
        return params
    return params_cls.model_validate(params)
