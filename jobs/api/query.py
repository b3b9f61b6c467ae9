"""Numbers in query strings, read one way by the REST views and the pages.

Python's `str.isdigit()` and `int()` accept Unicode digits ('²' is a digit that `int()` refuses, a
500 behind an `isdigit()` test; '٣' is one it takes), signs, spaces and '_', and `int()` of 5000
digits raises: ids and counts here are ASCII digits 0-9, within PostgreSQL's bigint. (NUL in a query
string is refused before any view runs: `jobs.api.nul`.)
"""
from __future__ import annotations

MAX_ID = 2**63 - 1  # PostgreSQL's bigint: a larger number is no row, not an overflow


class BadQuery(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def as_dict(self) -> dict:
        return {self.field: [self.message]}


def ascii_int(text, hi: int = MAX_ID) -> int | None:
    """The integer written in ASCII digits 0-9 (no sign, space or '_'), up to `hi`, else None."""
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > len(str(hi)):
        return None  # the length test first: int() of 5000 digits raises, and is slow before that
    value = int(text)
    return value if value <= hi else None


def int_param(query, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
    """`?name=` as an integer in [lo, hi]; absent or empty gives `default`. Without `hi`, a number past
    bigint reads as bigint's largest (a cursor past every row), so no huge number reaches SQL."""
    raw = query.get(name)
    if raw in (None, ""):
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise BadQuery(name, "must be an integer (digits 0-9)")
    value = ascii_int(raw, MAX_ID)
    value = MAX_ID if value is None else value
    if value < lo or (hi is not None and value > hi):
        raise BadQuery(name, f"must be between {lo} and {hi}" if hi is not None else f"must be >= {lo}")
    return value
