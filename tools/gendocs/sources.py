"""What a block's name ("params train", "bench load", "api") is generated from."""
from __future__ import annotations

from functools import cache

from tools.gendocs import bench, params


def generate(what: str) -> str:
    kind, _, arg = what.partition(" ")
    if kind == "params":
        return params_block(arg)
    if kind == "bench":
        return bench.render(arg)
    if kind == "settings":
        from tools.gendocs.settings import render

        return render(arg)
    if kind == "api":
        from tools.gendocs.api import render

        return render()
    raise ValueError(f"unknown generated block {what!r} (params KIND, bench NAME, settings MODULE or api)")


@cache
def params_block(kind: str) -> str:
    # the registry's own schema: the one the API validates with and /api/job-kinds/ serves
    from jobs.registry import get_kind

    job_kind = get_kind(kind)
    return params.render(job_kind.params_schema(), params.defaults_of(job_kind.params))
