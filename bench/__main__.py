"""`python -m bench [name ...]`: run the benchmarks (bench/bench_<name>.py), print their
tables, write bench/results/<name>.json. Without names, all of them."""
import importlib
import inspect
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv):
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== bench {name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            main_fn = importlib.import_module(f"bench.bench_{name}").main
            # each benchmark's own defaults: none of `python -m bench`'s arguments are meant for it
            sys.argv = [f"bench/bench_{name}.py"]
            main_fn([]) if "argv" in inspect.signature(main_fn).parameters else main_fn()
        except Exception as exc:  # one broken benchmark must not hide the others' tables
            import traceback

            traceback.print_exc()
            failed.append(f"{name}: {exc}")
        print(f"=== {name}: {time.perf_counter() - t0:.0f} s ===", flush=True)
    if failed:
        print("\nfailed benchmarks:\n  " + "\n  ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
