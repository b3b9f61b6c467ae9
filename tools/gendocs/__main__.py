"""`python -m tools.gendocs [--check]`: rewrite (or check) the generated blocks of README.md and docs/."""
from __future__ import annotations

import sys

from tools.gendocs.blocks import ROOT, pages, refill
from tools.gendocs.sources import generate


def stale() -> dict:
    """{page: text it should have} for every page whose generated blocks are out of date."""
    out = {}
    for page in pages():
        text = page.read_text()
        new = refill(text, generate)
        if new != text:
            out[page] = new
    return out


def main(argv) -> int:
    todo = stale()
    for page, text in todo.items():
        name = page.relative_to(ROOT)
        if "--check" in argv:
            print(f"stale: {name}")
        else:
            page.write_text(text)
            print(f"rewrote {name}")
    return 1 if todo and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
