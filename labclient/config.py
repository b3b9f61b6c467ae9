"""Where `lab login` keeps the URL and token: <user config dir>/lab/config.json, mode 0600.
`LAB_URL` / `LAB_TOKEN` in the environment win over the file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import typer


def path() -> Path:
    return Path(typer.get_app_dir("lab")) / "config.json"


def load() -> dict:
    try:
        return json.loads(path().read_text())
    except (OSError, ValueError):
        return {}


def resolve() -> dict:
    saved = load()
    return {"url": os.environ.get("LAB_URL") or saved.get("url"),
            "token": os.environ.get("LAB_TOKEN") or saved.get("token")}


def save(url: str, token: str) -> Path:
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True)
    # created 0600 from the start: the token is never readable by others, not even for a moment
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url.rstrip("/"), "token": token}, f)
    os.chmod(p, 0o600)  # an older file keeps its mode through O_CREAT
    return p
