"""Request bodies over LAB_MAX_BODY_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE) are refused with 413
before they are received, not after.

Django checks the size only once its ASGI handler has spooled the whole body to a temporary
file, so a client could make every web process store gigabytes first. Two layers stop it:

- `BodySizeLimit`, an ASGI middleware: 413 as soon as Content-Length, or the bytes received
  so far, pass the cap, without asking the server for the rest. This is the whole fix on
  servers that stream bodies to the application (uvicorn, hypercorn).
- daphne (twisted) receives the whole body itself before it calls the application at all, so
  webapp/daphne_bodycap.py applies the same rule to its request objects, at the headers
  (Content-Length) and as the pieces of a chunked body arrive.

One request has a cap of its own: a tus PATCH to /api/uploads/<guid>/ carries one chunk of a large
upload, up to LAB_UPLOAD_CHUNK_BYTES (64 MiB), so that a 10 GB model is ~160 requests, not ~10,000.
The view streams that body to the partial file (jobs/api/uploads.py); it never reads it whole.
"""
from __future__ import annotations

import json
import re

from django.conf import settings

BODY = json.dumps({"detail": "request body too large"}).encode()


def answer_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]


HEADERS = answer_headers(BODY)


CHUNK_PATH = re.compile(r"/api/uploads/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/?")


def is_tus_chunk(method: str, path: str) -> bool:
    """A PATCH of one chunk to an upload (/api/uploads/<guid>/); the upload's creation (POST) keeps the
    common cap. Who sends it is not known yet (daphne receives a body before Django runs): an anonymous
    client can make a web node spool one chunk's worth to disk, then gets its 401."""
    return method.upper() == "PATCH" and CHUNK_PATH.fullmatch(path) is not None


def limit_for(method: str, path: str) -> int | None:
    return settings.LAB_UPLOAD_CHUNK_BYTES if is_tus_chunk(method, path) else settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def refusal_body(method: str, path: str) -> bytes:
    if not is_tus_chunk(method, path):
        return BODY
    return json.dumps({"detail": f"request body too large: a tus chunk is at most LAB_UPLOAD_CHUNK_BYTES "
                                 f"({settings.LAB_UPLOAD_CHUNK_BYTES}) bytes; send smaller chunks"}).encode()


def too_large(size: int, limit: int | None = None) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
    return limit is not None and size > limit


def declared_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server or Django answers a malformed length
    return None


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope.get("method", ""), scope.get("path", "")
        limit, body = limit_for(method, path), refusal_body(method, path)
        length = declared_length(scope.get("headers", []))
        if length is not None and too_large(length, limit):
            return await refuse(send, body)
        received, refused = 0, False

        async def capped_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if too_large(received, limit):
                    refused = True
                    await refuse(send, body)
                    # to the application the client is gone: Django's handler stops reading, answers nothing
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.app(scope, capped_receive, guarded_send)


async def refuse(send, body: bytes = BODY):
    await send({"type": "http.response.start", "status": 413, "headers": answer_headers(body)})
    await send({"type": "http.response.body", "body": body})
