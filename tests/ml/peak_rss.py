"""The peak resident set of a job run as `python -m ml.<kind>` runs it, in its own process: what the admission
estimates (ml/<kind>/footprint.py) are checked against."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the job as `python -m ml.<kind>` runs it, then its own peak resident set: VmHWM, the high-water mark of the
# memory map exec gave it (KiB). Not getrusage's ru_maxrss, which keeps across exec the resident set of the
# process that forked it: a pytest process with torch and Django loaded would be measured instead.
MEASURE = """import importlib, re, sys
from pathlib import Path
from ml.cli import main
kind = sys.argv.pop(1)
main(kind, importlib.import_module(f"ml.{kind}").run, sys.argv[1:])
print("peak_kib", re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1])
"""


def peak_rss_bytes(kind: str, params: dict, tmp_path, name: str = "p") -> int:
    (tmp_path / f"{name}.json").write_text(json.dumps(params))
    done = subprocess.run([sys.executable, "-c", MEASURE, kind, "--params", str(tmp_path / f"{name}.json"), "--out",
                           str(tmp_path / f"{name}-out")], cwd=ROOT, check=True, capture_output=True, text=True)
    return int(done.stdout.split("peak_kib")[-1]) * 1024
