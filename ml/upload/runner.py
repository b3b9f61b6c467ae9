"""An upload's validation job: unpack a model archive into the job's own folder, load the model once and publish
its files as the artifact's folder; a dataset is read once. The result records what was found."""
from __future__ import annotations

from pathlib import Path

from ml.reporting import Reporter

from . import archive, datasets, layouts, models
from .params import Params

WEIGHTS = (".safetensors",)


def check_archive(fmt: str, path, name: str, limits: archive.Limits) -> list[str]:
    """The member names (common top folder dropped) of a model archive whose every check passed."""
    infos = archive.members(path, limits, name)
    root = archive.common_root([i.filename for i in infos])
    names = [i.filename[len(root):] for i in infos]
    layouts.check_names(fmt, names, name)
    return names


def run(params, reporter: Reporter) -> dict:
    p = params if isinstance(params, Params) else Params.model_validate(params)
    if not p.path:
        raise archive.BadUpload("no uploaded file to validate (params.path)")
    limits = archive.Limits(**p.limits.model_dump())
    if p.kind == "dataset":
        return {"kind": p.kind, "format": p.format, **datasets.describe(p.format, p.path, p.file, limits)}
    reporter.log(f"checking {p.file} as a {p.format} model folder")
    check_archive(p.format, p.path, p.file, limits)
    folder = Path(reporter.out_dir) / "unpacked"
    names = archive.extract(p.path, folder, limits, p.file)
    reporter.progress(1, 3)
    summary = models.DESCRIBE[p.format](folder, p.file)
    reporter.progress(2, 3)
    reporter.log(f"loaded: {summary['parameters']} parameters ({summary['dtype']})")
    # the folder the jobs read: each file an artifact under its own relative name, beside the archive (the
    # archive is the one `model` artifact to pick; a weights file alone is no model: kind `weights`)
    for name in sorted(names):
        reporter.artifact(name, folder / name, "weights" if name.endswith(WEIGHTS) else "config")
    reporter.progress(3, 3)
    return {"kind": p.kind, "format": p.format, "files": len(names),
            "unpacked_bytes": sum((folder / n).stat().st_size for n in names), **summary}
