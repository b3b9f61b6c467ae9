"""Shared `python -m ml.<kind> --params FILE.json --out DIR` entry point: each kind's __main__.py calls `main`."""
from __future__ import annotations

import argparse
import json
import sys

from ml.finite import Diverged, safe_result
from ml.reporting import PrintReporter, write_json


def main(kind: str, run, argv=None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m ml.{kind}", description=f"Run one '{kind}' job in the terminal.")
    parser.add_argument("--params", required=True, help="JSON file with the job's params")
    parser.add_argument("--out", required=True, help="folder for the artifacts")
    args = parser.parse_args(argv)
    with open(args.params) as f:
        params = json.load(f)
    reporter = PrintReporter(args.out)
    try:
        result = safe_result(run(params, reporter))
    except Diverged as exc:  # the run's answer, not a bug: one line, as a job's error reads, and no traceback
        print(exc, file=sys.stderr)
        return 1
    write_json(reporter.out_dir / "result.json", result)
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0

