"""Finding and refilling the generated blocks of a markdown page."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a marker is a line of its own, so a page may quote one in backticks
BLOCK = re.compile(r"^(<!-- generated:(?P<what>[^>\n]*?) -->\n)(?P<body>.*?)^(<!-- /generated -->)$", re.S | re.M)


def pages() -> list[Path]:
    """Every page that may hold generated blocks: the README and docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def refill(text: str, generate) -> str:
    """`text` with each block's body replaced by `generate(what)` ("params train", "bench load", ...)."""
    def one(m):
        return m.group(1) + generate(m.group("what").strip()).rstrip("\n") + "\n" + m.group(4)
    return BLOCK.sub(one, text)


def names(text: str) -> list[str]:
    return [m.group("what").strip() for m in BLOCK.finditer(text)]
