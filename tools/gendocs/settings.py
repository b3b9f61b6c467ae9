"""The environment variables the settings read, from webapp/settings/*.py: name, type, default, and the
comment the settings file gives them (the line above the assignment, or the one at its end)."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

SETTINGS = Path(__file__).resolve().parents[2] / "webapp" / "settings"
TYPES = {"bool": "bool", "int": "int", "float": "float", "list": "list", "path": "path", "db": "URL"}


def render(module: str) -> str:
    path = SETTINGS / f"{module}.py"
    source = path.read_text()
    comments = _comments(source)
    rows, seen = [], set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name, typ = _env_call(node)
        if not name or name in seen:
            continue
        seen.add(name)
        default = next((k.value for k in node.keywords if k.arg == "default"), None)
        rows.append((node.lineno, name, typ, _default(default), _comment(comments, node.lineno, node.end_lineno)))
    rows.sort()
    lines = ["| variable | type | default | what |", "|---|---|---|---|"]
    lines += [f"| `{n}` | {t} | {d} | {c} |" for _, n, t, d, c in rows]
    return "\n".join(lines)


def _env_call(node):
    f = node.func
    if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
        return None, None
    if isinstance(f, ast.Name) and f.id == "env":
        return node.args[0].value, "string"
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "env" and f.attr in TYPES:
        return node.args[0].value, TYPES[f.attr]
    return None, None


def _default(node) -> str:
    if node is None:
        return "required"
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return f"`{ast.unparse(node)}`"
    return "unset" if value in (None, "") else f"`{value!r}`" if not isinstance(value, str) else f"`{value}`"


def _comments(source) -> tuple[dict[int, str], dict[int, str]]:
    """({line: comment at its end}, {line: comment that is the whole line})."""
    tail, whole = {}, {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            own_line = tok.line.strip().startswith("#")
            (whole if own_line else tail)[tok.start[0]] = tok.string.lstrip("#").strip()
    return tail, whole


def _comment(comments, line, end) -> str:
    """The comment at the end of the call, else the comment block right above it."""
    tail, whole = comments
    for n in (end, line):
        if n in tail:
            return _cell(tail[n])
    block, n = [], line - 1
    while n in whole:
        block.insert(0, whole[n])
        n -= 1
    return _cell(" ".join(block))


def _cell(text):
    return text.replace("|", "\\|").replace("<", "&lt;")
