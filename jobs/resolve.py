"""Turn `{"artifact": id}` references in params into folders the runner can read.

`ml/` never sees the database: the job system checks the user may use each artifact
and adds its folder as `path`. Both the API (at submit time, for a clear 400) and the
worker (at run time) go through here.
"""
from __future__ import annotations

from .access import models_usable_by
from .transfer import input_file, input_folder

MODEL_KINDS = ("model",)
DATASET_KINDS = ("dataset",)
# params fields (first part of the dotted path) whose references are data, not models: `train`'s data (and
# its labels, data.labels), `quantize`'s calibration text
DATASET_FIELDS = ("data", "calibration")


def wants_dataset(field: str) -> bool:
    return field.split(".", 1)[0] in DATASET_FIELDS


class BadReference(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def find_refs(params, prefix="") -> list[tuple[str, dict]]:
    """Every dict with an "artifact" key, with its dotted field path."""
    found = []
    if isinstance(params, dict):
        if "artifact" in params and params["artifact"] is not None:
            found.append((prefix.rstrip("."), params))
        for k, v in params.items():
            if isinstance(v, (dict, list)):
                found.extend(find_refs(v, f"{prefix}{k}."))
    elif isinstance(params, list):
        for i, v in enumerate(params):
            found.extend(find_refs(v, f"{prefix}{i}."))
    return found


def lookup(params, user):
    """[(field, ref, Artifact)] for every reference; raises BadReference naming the field. A data field takes
    a dataset artifact, every other field a model."""
    out = []
    usable = models_usable_by(user).select_related("job")
    for field, ref in find_refs(params):
        art_id = ref["artifact"]
        data = wants_dataset(field)
        allowed = usable.filter(kind__in=DATASET_KINDS if data else MODEL_KINDS)
        art = allowed.filter(pk=art_id).first() if isinstance(art_id, int) and not isinstance(art_id, bool) else None
        if art is None:
            what = "dataset" if data else "model"
            raise BadReference(f"{field}.artifact", f"no {what} artifact {art_id!r} among the {what}s of the projects "
                                                    f"where you may launch jobs (member or admin)")
        if art.job.status != "succeeded":
            raise BadReference(f"{field}.artifact", f"artifact {art_id} comes from job {art.job_id}, "
                                                    f"which has not succeeded ({art.job.status})")
        out.append((field, ref, art))
    return out


def resolve_artifacts(params: dict, user, config_only: bool = False) -> dict:
    """A copy of params where each reference also carries the artifact's path: a model's folder, a dataset's
    file (fetched from the object store when there is one; `config_only`: only a model's small files, to
    validate a submission)."""
    import copy

    params = copy.deepcopy(params)
    for field, ref, art in lookup(params, user):
        ref["path"] = input_file(art) if wants_dataset(field) else input_folder(art, config_only)
    return params
