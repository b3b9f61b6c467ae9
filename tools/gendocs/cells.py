"""Table cells from JSON Schema values: types, ranges, defaults, text (numbers and names, short)."""
from __future__ import annotations

import json

LONG = 28  # a default longer than this in JSON is summarised: cells hold numbers and names, not data


def one_of(values) -> str:
    names = [f"`{v}`" for v in dict.fromkeys(values)]
    return "one of " + ", ".join(names) if len(names) > 1 else names[0]


def value_range(node) -> str:
    node = dict(node)
    members = [m for m in node.get("anyOf", []) if m.get("type") != "null"]
    if len(members) == 1:
        node = {**members[0], **node}
    parts = []
    lo = bound(node, "minimum", "≥ ", "exclusiveMinimum", "> ")
    hi = bound(node, "maximum", "≤ ", "exclusiveMaximum", "< ")
    if lo and hi:
        opening, closing = "[" if lo[0] == "≥ " else "(", "]" if hi[0] == "≤ " else ")"
        parts.append(f"{opening}{num(lo[1])}, {num(hi[1])}{closing}")
    elif lo or hi:
        sign, value = lo or hi
        parts.append(sign + num(value))
    if "minItems" in node or "maxItems" in node:
        parts.append(count(node.get("minItems"), node.get("maxItems"), "items"))
    if "minLength" in node or "maxLength" in node:
        parts.append(count(node.get("minLength"), node.get("maxLength"), "chars"))
    items = node.get("items")
    if isinstance(items, dict):
        inner = value_range(items)
        if inner:
            parts.append("each " + inner)
    return ", ".join(parts)


def bound(node, inclusive, sign, exclusive, strict_sign):
    if inclusive in node:
        return sign, node[inclusive]
    return (strict_sign, node[exclusive]) if exclusive in node else None


def count(lo, hi, what):
    if lo is not None and hi is not None:
        return f"{lo}-{hi} {what}"
    return f"≥ {lo} {what}" if lo is not None else f"≤ {hi} {what}"


def num(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int) and abs(v) >= 10_000:
        return f"{v:,}"
    return repr(v) if isinstance(v, float) else str(v)


def default_cell(prop) -> str:
    value = prop["default"]
    as_json = json.dumps(value)
    if len(as_json) <= LONG:
        return f"`{as_json}`"
    if isinstance(value, dict):
        tag = next((f'{{"{k}": {json.dumps(v)}, …}}' for k, v in value.items() if isinstance(v, str)), None)
        return f"`{tag}`" if tag and len(tag) <= LONG + 8 else "object"
    if isinstance(value, list):
        return f"{len(value)} items"
    return f"`{as_json[:LONG]}…`"


def text(s: str) -> str:
    # one table cell: no line breaks, and a pipe would end the cell
    return " ".join(str(s).split()).replace("|", "\\|").replace("<", "&lt;")
