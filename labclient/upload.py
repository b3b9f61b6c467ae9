"""`Lab.upload`: a file to POST /api/artifacts/ over tus 1.0 (/api/uploads/, docs/uploads.md), in chunks of the size
the server takes (`Lab-Max-Chunk-Size` of its OPTIONS answer). After a chunk cut off by the network the file is not
sent again from the start: the client asks the server (HEAD) which offset it holds and goes on from there; so too
after a 503 (a web node, or the object store behind it, failed that chunk: the upload lives on, and the next
request may reach another node)."""
from __future__ import annotations

import base64
from pathlib import Path

import httpx

from .errors import ApiError
from .stream import pause

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK_BYTES = 900_000  # a server that does not say its chunk size takes bodies under 1 MB (LAB_MAX_BODY_BYTES)
RETRIES = 5


def _check(r: httpx.Response, *ok: int) -> httpx.Response:
    if r.status_code not in ok:
        try:
            body = r.json()
        except ValueError:
            body = r.text
        raise ApiError(r.status_code, body)
    return r


def server_offset(http: httpx.Client, location: str) -> int:
    return int(_check(http.head(location, headers=TUS), 200).headers["Upload-Offset"])


def server_chunk_bytes(http: httpx.Client) -> int:
    """The largest chunk the server takes (LAB_UPLOAD_CHUNK_BYTES), from OPTIONS /api/uploads/."""
    r = _check(http.options("/api/uploads/", headers=TUS), 200)
    try:
        return int(r.json()["Lab-Max-Chunk-Size"])
    except (ValueError, KeyError, TypeError):
        return CHUNK_BYTES


def send_file(http: httpx.Client, path: Path, chunk_bytes: int | None = None, on_progress=None) -> str:
    """The tus upload of `path`, complete, in chunks of `chunk_bytes` (default: the server's); returns its guid."""
    chunk_bytes = chunk_bytes or server_chunk_bytes(http)
    size = path.stat().st_size
    meta = "filename " + base64.b64encode(path.name.encode()).decode()
    location = _check(http.post("/api/uploads/", headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": meta}),
                      201).headers["Location"]
    offset, failures = 0, 0
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            data = f.read(chunk_bytes)
            try:
                r = http.patch(location, content=data, headers={**TUS, "Upload-Offset": str(offset),
                                                                "Content-Type": "application/offset+octet-stream"})
            except httpx.TransportError:
                failures += 1
                if failures > RETRIES:
                    raise
                offset = server_offset(http, location)  # what arrived of the cut chunk is kept there
                continue
            if r.status_code == 409:  # our offset is not the server's (a retried chunk had arrived after all)
                offset = server_offset(http, location)
                continue
            if r.status_code == 503 and failures < RETRIES:  # the node (or its store) failed it: the upload lives on
                failures += 1
                pause(failures)
                offset = server_offset(http, location)
                continue
            offset = int(_check(r, 204).headers["Upload-Offset"])
            failures = 0
            if on_progress is not None:
                on_progress(offset, size)
    return location.rstrip("/").rsplit("/", 1)[1]
