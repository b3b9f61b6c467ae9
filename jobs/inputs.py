"""The headers of a job's own models and data, read where their files are, for admission at submit time.

`ml.inputs` reads a file's header from a seekable stream; here each artifact's files are those streams: the
file in MEDIA_ROOT, or with an object store a stream of ranged GETs (`Store.read_range`), buffered so a header
costs one or two requests and the file is never downloaded. A model's files are those `transfer.input_folder`
would fetch for it (the artifacts of its job that make a model folder). A FASTA or CSV upload, whose format has
no header to count it by, is described by what its upload recorded when it read the file (its job's result).
"""
from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings

from ml.inputs import (RangeFile, UnreadableInput, describe_data, describe_model, from_summary, local_data,
                       local_model)

from . import objectstore
from .resolve import wants_dataset
from .transfer import MODEL_FILES

BUFFER = 64 << 10  # one GET holds an .npy header, a config, a small safetensors header or a zip's directory


def _stream(store, rel: str, size: int):
    return io.BufferedReader(RangeFile(lambda offset, n: store.read_range(rel, offset, n), size), BUFFER), size


def _model(art):
    if not objectstore.enabled():
        return local_model((Path(settings.MEDIA_ROOT) / art.file.name).parent)
    from .models import Artifact

    store = objectstore.store()
    files = {name: (rel, size) for name, rel, size in Artifact.objects.filter(
        job_id=art.job_id, kind__in=MODEL_FILES, partial=False).values_list("name", "file", "size")}
    return describe_model(files, lambda name: _stream(store, *files[name]))


def _data(art):
    if art.job.kind == "upload":
        recorded = from_summary(art.name, art.size, art.job.result or {})
        if recorded is not None:
            return recorded
    if not objectstore.enabled():
        return local_data(Path(settings.MEDIA_ROOT) / art.file.name)
    store = objectstore.store()
    return describe_data(art.name, lambda _name: _stream(store, art.file.name, art.size))


def describe(refs) -> dict:
    """{field: ml.inputs.ModelFiles | DataFile} for `resolve.lookup`'s references. A file that cannot be found,
    or whose header is not what its format writes, is left out: admission prices what it knows, and a file
    no loader can read fails at its validation or its load with the loader's own words, not for its size."""
    out = {}
    for field, _ref, art in refs:
        try:
            out[field] = _data(art) if wants_dataset(field) else _model(art)
        except (UnreadableInput, FileNotFoundError, NotADirectoryError):
            continue
    return out
