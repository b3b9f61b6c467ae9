"""Shared `python -m ml.<kind> --params FILE.json --out DIR` entry point: each kind's __main__.py calls `main`."""
from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from ml.finite import Diverged, safe_result
from ml.params import DataError
from ml.reporting import PrintReporter, write_json


def main(kind: str, run, argv=None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m ml.{kind}", description=f"Run one '{kind}' job in the terminal.")
    parser.add_argument("--params", required=True, help="JSON file with the job's params")
    parser.add_argument("--out", required=True, help="folder for the artifacts")
    parser.add_argument("--estimate", action="store_true",
                        help="print what the job would take from the machine (the lab's admission estimate, its "
                             "own model and data priced from their headers) and exit without running it")
    args = parser.parse_args(argv)
    with open(args.params) as f:
        params = json.load(f)
    if args.estimate:
        return estimate(kind, params)
    reporter = PrintReporter(args.out)
    try:
        result = safe_result(run(params, reporter))
    except Diverged as exc:  # the run's answer, not a bug: one line, as a job's error reads, and no traceback
        print(exc, file=sys.stderr)
        return 1
    except ValidationError as exc:  # bad params (a data file included): each field named, as the API's 400
        for err in exc.errors():
            print(f"{'.'.join(str(p) for p in err['loc']) or 'params'}: {err['msg']}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(exc, file=sys.stderr)
        return 2
    write_json(reporter.out_dir / "result.json", result)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0



def estimate(kind: str, params: dict) -> int:
    """The footprint of `params` (ml/<kind>/footprint.py) with the local files they name described: one line of
    memory with its formula, one of processes, one of files."""
    import importlib

    from ml.footprint import Footprint
    from ml.inputs import UnreadableInput, local_inputs, without_paths

    module = importlib.import_module(f"ml.{kind}")
    placeholder, paths = without_paths(params)
    try:
        p = module.Params.model_validate(placeholder)
        fp: Footprint = importlib.import_module(f"ml.{kind}.footprint").footprint(p, local_inputs(p, paths))
    except ValidationError as exc:
        for err in exc.errors():
            print(f"{'.'.join(str(x) for x in err['loc']) or 'params'}: {err['msg']}", file=sys.stderr)
        return 2
    except (DataError, UnreadableInput) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"memory: {fp.memory_bytes} bytes = {fp.explain_memory()}")
    print(f"processes: {fp.processes.value} ({fp.processes.text})")
    print(f"files: {fp.file_count} ({fp.explain_files()})")
    return 0
