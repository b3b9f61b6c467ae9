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
"""
from __future__ import annotations

import json

from django.conf import settings

BODY = json.dumps({"detail": "request body too large"}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode()),
           (b"connection", b"close")]


def too_large(size: int) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
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
        length = declared_length(scope.get("headers", []))
        if length is not None and too_large(length):
            return await refuse(send)
        received, refused = 0, False

        async def capped_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if too_large(received):
                    refused = True
                    await refuse(send)
                    # to the application the client is gone: Django's handler stops reading, answers nothing
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.app(scope, capped_receive, guarded_send)


async def refuse(send):
    await send({"type": "http.response.start", "status": 413, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
