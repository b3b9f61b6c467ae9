"""A tus PATCH (/api/uploads/<guid>/) may carry a chunk up to LAB_UPLOAD_CHUNK_BYTES, streamed to the partial file,
while every other request keeps the LAB_MAX_BODY_BYTES cap (1 MB): against the real server (daphne and both
body-cap layers, webapp/bodycap.py), started with a chunk cap of 4 MiB."""
import asyncio
import base64
import hashlib
import json

import httpx
import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from labclient.upload import server_chunk_bytes
from tests.procs import start_web, stop
from webapp.bodycap import BodySizeLimit
from webapp.http import get_asgi_application

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"Tus-Resumable": "1.0.0"}
MiB = 1024 * 1024
CHUNK_CAP = 4 * MiB


@pytest.fixture
def web_url(django_db_setup, django_db_blocker, fresh_media):
    proc, out, url = start_web({"LAB_UPLOAD_CHUNK_BYTES": str(CHUNK_CAP)})
    yield url
    stop(proc)
    print("\n--- web output (tail) ---\n" + out.tail(40))


def create(client, name: str, length: int) -> str:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    r = client.post("/api/uploads/", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    return r.headers["Location"]


def patch(client, location: str, data: bytes, offset: int, **headers) -> httpx.Response:
    return client.patch(location, content=data, headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers})


def test_a_tus_chunk_may_pass_the_body_cap_up_to_its_own(web_url, user):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1_000_000
    text = b"".join(b"%07d ACGTACGTACGT\n" % i for i in range(3 * MiB // 20 + 1))[:3 * MiB] + b"tail\n"
    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    with httpx.Client(base_url=web_url, headers=auth, timeout=60) as c:
        r = c.options("/api/uploads/", headers=TUS)
        assert r.status_code == 200 and r.json()["Lab-Max-Chunk-Size"] == CHUNK_CAP
        assert server_chunk_bytes(c) == CHUNK_CAP  # what `lab upload` sizes its chunks by
        location = create(c, "seqs.txt", len(text))

        # over the chunk cap: refused at the headers, saying which cap
        r = patch(c, location, b"x" * (CHUNK_CAP + 1), 0)
        assert r.status_code == 413 and f"LAB_UPLOAD_CHUNK_BYTES ({CHUNK_CAP})" in r.json()["detail"], r.text

        # 3 MiB in one request, three times the common cap
        r = patch(c, location, text[:3 * MiB], 0)
        assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == 3 * MiB, r.text

        # past the declared Upload-Length: refused, nothing written
        r = patch(c, location, b"tail\n and more", 3 * MiB)
        assert r.status_code == 413, r.text
        assert r.json()["detail"] == (f"this chunk of 14 bytes from offset {3 * MiB} would pass the Upload-Length of "
                                      f"{len(text)} bytes: send at most 5")
        assert int(c.head(location, headers=TUS).headers["Upload-Offset"]) == 3 * MiB

        # a chunk with a checksum (tus `checksum` extension; drf-tus takes it in hex) is checked on its bytes
        rest = text[3 * MiB:]
        wrong = "sha1 " + hashlib.sha1(b"other").hexdigest()
        assert patch(c, location, rest, 3 * MiB, **{"Upload-Checksum": wrong}).status_code == 460
        right = "sha1 " + hashlib.sha1(rest).hexdigest()
        r = patch(c, location, rest, 3 * MiB, **{"Upload-Checksum": right})
        assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == len(text), r.text

        r = c.post("/api/artifacts/", json={"upload": location.rstrip("/").rsplit("/", 1)[1], "kind": "dataset",
                                            "format": "text"})
        assert r.status_code == 201, r.text
        assert (r.json()["size"], r.json()["sha256"]) == (len(text), hashlib.sha256(text).hexdigest())

        # every other endpoint keeps the 1 MB cap: the same 3 MiB as a job's params
        r = c.post("/api/jobs/", content=json.dumps({"kind": "sample", "params": {"pad": "x" * 3 * MiB}}),
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json() == {"detail": "request body too large"}
        # and so does the upload's creation (POST), which may carry a body too
        r = c.post("/api/uploads/", content=b"x" * 3 * MiB, headers={**TUS, "Upload-Length": str(3 * MiB)})
        assert r.status_code == 413 and r.json() == {"detail": "request body too large"}


async def asgi_status(method: str, path: str, length: int) -> int:
    """The status BodySizeLimit (in front of Django) answers a request declaring `length` bytes, sent empty."""
    sent, messages = [], [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.get_running_loop().create_future()  # as a server: no disconnect until Django is done

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(length).encode()),
                         (b"content-type", b"application/offset+octet-stream"), (b"tus-resumable", b"1.0.0")],
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "root_path": ""}
    await BodySizeLimit(get_asgi_application())(scope, receive, send)
    return sent[0]["status"]


async def test_the_asgi_layer_lets_only_a_tus_patch_past_the_common_cap(settings):
    settings.LAB_UPLOAD_CHUNK_BYTES = CHUNK_CAP
    chunk = "/api/uploads/00000000-0000-0000-0000-000000000000/"
    assert await asgi_status("PATCH", chunk, 3 * MiB) == 401  # past the cap layer: Django asks who it is
    assert await asgi_status("PATCH", chunk, CHUNK_CAP + 1) == 413
    assert await asgi_status("POST", "/api/uploads/", 3 * MiB) == 413
    assert await asgi_status("PATCH", "/api/jobs/1/", 3 * MiB) == 413
    assert await asgi_status("PATCH", "/api/uploads/x/../../jobs/1/", 3 * MiB) == 413  # an upload's path only
