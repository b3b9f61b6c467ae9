"""Turn `{"artifact": id}` references in params into folders the runner can read.

`ml/` never sees the database: the job system checks the user may use each artifact
and adds its folder as `path`. Both the API (at submit time, for a clear 400) and the
worker (at run time) go through here.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from .access import models_usable_by

MODEL_KINDS = ("model",)


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
    """[(field, ref, Artifact)] for every reference; raises BadReference naming the field."""
    out = []
    allowed = models_usable_by(user).filter(kind__in=MODEL_KINDS).select_related("job")
    for field, ref in find_refs(params):
        art_id = ref["artifact"]
        art = allowed.filter(pk=art_id).first() if isinstance(art_id, int) and not isinstance(art_id, bool) else None
        if art is None:
            raise BadReference(f"{field}.artifact", f"no model artifact {art_id!r} among the models of the projects "
                                                    f"where you may launch jobs (member or admin)")
        if art.job.status != "succeeded":
            raise BadReference(f"{field}.artifact", f"artifact {art_id} comes from job {art.job_id}, "
                                                    f"which has not succeeded ({art.job.status})")
        out.append((field, ref, art))
    return out


def resolve_artifacts(params: dict, user) -> dict:
    """A copy of params where each reference also carries the artifact's folder."""
    import copy

    params = copy.deepcopy(params)
    for _field, ref, art in lookup(params, user):
        ref["path"] = str((Path(settings.MEDIA_ROOT) / art.file.name).parent)
    return params
