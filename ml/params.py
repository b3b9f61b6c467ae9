"""Pieces shared by the params schemas of every job kind.

Each kind's schema is a pydantic v2 model in `ml/<kind>/params.py`: it is the
single source of truth, validated by the REST API, exported as JSON Schema for
the dashboard form, and handed to the runner.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator
from pydantic.json_schema import GenerateJsonSchema, NoDefault
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


def not_applicable(key: str, allowed, value) -> PydanticCustomError:
    """The error of a field given where its rule does not hold: "applies only when objective is slimflow
    (it is rectified_flow)"."""
    return PydanticCustomError("not_applicable", "applies only when {key} is {allowed} (it is {value})",
                               {"key": key, "allowed": " or ".join(map(str, allowed)), "value": value})


def _rule(info) -> dict | None:
    extra = info.json_schema_extra
    return extra.get(WHEN) if isinstance(extra, dict) else None


def _holds(info, value) -> bool:
    """Whether the field applies, `value(key)` being the value of the sibling `key` its rule names."""
    rule = _rule(info)
    return not rule or all(value(key) in allowed for key, allowed in rule.items())


class FactoryDefaults(GenerateJsonSchema):
    """Writes the value a `default_factory` makes as the field's schema default (pydantic leaves it out), so
    the form shows a working example (the mixture's means, the default data) instead of empty boxes; and
    keeps the presets in the order the kind gives them ("quick demo" first), where pydantic sorts keys."""

    def _sort_recursive(self, value, parent_key=None):
        if parent_key == PRESETS and isinstance(value, dict):
            return {name: super(FactoryDefaults, self)._sort_recursive(v, name) for name, v in value.items()}
        return super()._sort_recursive(value, parent_key)

    def get_default_value(self, schema):
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()
        return schema.get("default", NoDefault)


class Strict(BaseModel):
    # unknown keys are a 400, not silently ignored: a typo in a param must not run a week-long job
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @classmethod
    def model_json_schema(cls, *args, schema_generator=FactoryDefaults, **kw):
        return super().model_json_schema(*args, schema_generator=schema_generator, **kw)

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
                    errors.append(InitErrorDetails(type=not_applicable(key, allowed, value), loc=(name,),
                                                   input=getattr(self, name)))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @model_serializer(mode="wrap")
    def _only_applicable(self, handler):
        # a dump (the job row's params, a runner's params.json) leaves out what does not apply, so that it
        # validates again: its defaults would otherwise be "given" where the rule above refuses them
        data = handler(self)
        if isinstance(data, dict):
            fields = type(self).model_fields
            for name in [n for n in data if n in fields and not _holds(fields[n], lambda key: getattr(self, key))]:
                del data[name]
        return data


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


class DataError(ValueError):
    """A user's data (a file, a reference) that cannot be used; its text is the whole message, and a terminal
    run prints it as the one line it is (ml/cli.py)."""


class DatasetRef(Strict):
    """A data file of your own: an uploaded dataset artifact (the job system fills `path` with its file after
    checking you may use it), or in a terminal run `path`: the file, or a folder holding it."""

    artifact: Optional[int] = Field(None, ge=1, description="Id of a dataset artifact (uploaded, kind 'dataset').")
    path: Optional[str] = Field(None, max_length=4096, description="The data file or its folder (terminal runs).")

    def model_post_init(self, __context) -> None:
        if self.artifact is None and self.path is None:
            raise ValueError("give 'artifact' (a dataset id) or 'path' (a file or folder)")

    def file(self, field: str = "data") -> str:
        """The path to read; a reference by id alone is a terminal run that cannot look artifacts up."""
        if self.path is None:
            raise DataError(f"{field}: the job system fills 'path' from 'artifact'; a terminal run gives "
                             f"{{\"path\": \"<file or folder>\"}}")
        return self.path


def type_tag(value, bare_reference: str, default: str | None = None) -> str | None:
    """The `type` of a data spec (a dict, or a params object); one without a type that refers to a file
    ({"artifact": id} or {"path": ...}) is `bare_reference`, one with neither is `default`."""
    get = value.get if isinstance(value, dict) else lambda k: getattr(value, k, None)
    typ = get("type")
    if typ is None:
        return bare_reference if get("artifact") is not None or get("path") is not None else default
    return typ


def tagged_by_type(*classes) -> dict:
    """The `discriminator` of a union whose members carry a `type` tag, for a field's json_schema_extra: a union
    that also takes a bare reference is picked by a function (pydantic then writes no discriminator), and the
    dashboard's form builds its choice of variants from this one."""
    return {"discriminator": {"propertyName": "type", "mapping": {
        c.model_fields["type"].default: f"#/$defs/{c.__name__}" for c in classes}}}


def params_hash(params: dict) -> str:
    """sha256 of params as compact, key-sorted JSON: which params a folder or a checkpoint was made for."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def field_error(loc: tuple, message: str) -> ValidationError:
    """A 400 naming `loc` ("data", "data.labels") with `message` as written, raised from a model validator
    (what pydantic's ValueError would prefix with "Value error, " and place on the model)."""
    kind = PydanticCustomError("bad_data", "{message}", {"message": message})
    return ValidationError.from_exception_data("Params", [InitErrorDetails(type=kind, loc=loc, input=None)])


def applicable(params_cls, params: dict) -> dict:
    """`params` without the fields that do not apply to them (a `when` that fails on the values given, or
    on the defaults): one config shared by several methods (a bench's, a test's) made fit for each."""
    fields = params_cls.model_fields

    def value(key):
        return params[key] if key in params else fields[key].get_default(call_default_factory=True)

    return {name: v for name, v in params.items() if name not in fields or _holds(fields[name], value)}


def parse(params_cls, params):
    """Accept the schema object itself or a plain dict."""
    if isinstance(params, params_cls):
        return params
    return params_cls.model_validate(params)
