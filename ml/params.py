"""Pieces shared by the params schemas of every job kind.

Each kind's schema is a pydantic v2 model in `ml/<kind>/params.py`: it is the
single source of truth, validated by the REST API, exported as JSON Schema for
the dashboard form, and handed to the runner.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

WHEN = "x-when"          # a field that applies only when sibling fields take certain values
ADVANCED = "x-advanced"  # a field the form folds under "Advanced"
PRESETS = "x-presets"    # named, complete example params of a kind ("quick demo", "paper config")


def Param(default: Any = ..., *, when: dict | None = None, advanced: bool = False, **kw):
    """A pydantic Field that may say where it applies, e.g. `Param(1.0, when={"objective": ["slimflow"]})`.

    The schema carries the rule (`x-when`, `x-advanced`) so the dashboard form shows the field only where it
    applies; `Strict` refuses the field, with its name, when it is given where it does not apply, so the
    API's 400 and the form follow the same rule."""
    extra = dict(kw.pop("json_schema_extra", None) or {})
    if when:
        extra[WHEN] = {k: list(v) for k, v in when.items()}
    if advanced:
        extra[ADVANCED] = True
    return Field(default, json_schema_extra=extra or None, **kw)


def _rule(info) -> dict | None:
    extra = info.json_schema_extra
    return extra.get(WHEN) if isinstance(extra, dict) else None


class Strict(BaseModel):
    # unknown keys are a 400, not silently ignored: a typo in a param must not run a week-long job
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _applies(self):
        errors = []
        for name in sorted(self.model_fields_set):
            info = type(self).model_fields[name]
            rule = _rule(info)
            # its default is no choice: the API stores a job's params with every default written out, and the
            # worker validates them again
            if not rule or getattr(self, name) == info.get_default(call_default_factory=True):
                continue
            for key, allowed in rule.items():
                value = getattr(self, key)
                if value not in allowed:
                    errors.append(InitErrorDetails(
                        type=PydanticCustomError("not_applicable", "applies only when {key} is {allowed} (it is {value})",
                                                 {"key": key, "allowed": " or ".join(map(str, allowed)),
                                                  "value": value}),
                        loc=(name,), input=getattr(self, name)))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


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
