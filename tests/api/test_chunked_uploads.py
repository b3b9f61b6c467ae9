"""Uploads in chunks over tus 1.0 (POST /api/uploads/), against the real ASGI server: an upload interrupted after
some chunks resumes from the offset the server holds, and once complete becomes an artifact through
POST /api/artifacts/ with `upload`; someone else's upload is invisible to another user."""
import base64
import hashlib
import os
import time

import httpx
import pytest
from rest_framework.authtoken.models import Token

from jobs.chunked import uploads_dir

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.stores]

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 256 * 1024  # under the request body cap (LAB_MAX_BODY_BYTES, 1 MB)


def create(client, name: str, length: int) -> str:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    r = client.post("/api/uploads/", headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    return r.headers["Location"]


def send(client, location: str, data: bytes, offset: int) -> httpx.Response:
    return client.patch(location, content=data[offset:offset + CHUNK], headers={
        **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})


def offset_of(client, location: str) -> int:
    r = client.head(location, headers=TUS)
    assert r.status_code == 200, r.text
    return int(r.headers["Upload-Offset"])


def test_an_interrupted_chunked_upload_resumes_and_becomes_an_artifact(live_server_url, user, other_user):
    text = ("".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(20_000))).encode()
    assert len(text) > 4 * CHUNK
    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    with httpx.Client(base_url=live_server_url, headers=auth, timeout=60) as first:
        location = create(first, "corpus.txt", len(text))
        for offset in (0, CHUNK):
            r = send(first, location, text, offset)
            assert r.status_code == 204 and int(r.headers["Upload-Offset"]) == offset + CHUNK, r.text
    # the connection is gone; a new client asks where the upload stands and goes on from there
    with httpx.Client(base_url=live_server_url, headers=auth, timeout=60) as again:
        offset = offset_of(again, location)
        assert offset == 2 * CHUNK
        assert send(again, location, text, 0).status_code == 409  # not from the start: the server holds 2 chunks
        r = again.post("/api/artifacts/", json={"upload": location.rstrip("/").rsplit("/", 1)[1], "kind": "dataset",
                                                "format": "text"})
        assert r.status_code == 400 and f"holds {offset} of its {len(text)} bytes" in r.json()["upload"][0]
        while offset < len(text):
            r = send(again, location, text, offset)
            assert r.status_code == 204, r.text
            offset = int(r.headers["Upload-Offset"])
        assert offset == len(text)
        guid = location.rstrip("/").rsplit("/", 1)[1]
        bob = {"Authorization": f"Token {Token.objects.create(user=other_user).key}"}
        assert again.head(location, headers={**TUS, **bob}).status_code == 404
        assert again.post("/api/artifacts/", headers=bob, json={"upload": guid, "kind": "dataset",
                                                                  "format": "text"}).status_code == 400
        r = again.post("/api/artifacts/", json={"upload": guid, "kind": "dataset", "format": "text"})
        assert r.status_code == 201, r.text
        art = r.json()
        assert (art["name"], art["size"], art["status"]) == ("corpus.txt", len(text), "succeeded")
        assert art["sha256"] == hashlib.sha256(text).hexdigest()
        assert again.get(art["url"]).content == text
        assert again.head(location, headers=TUS).status_code == 404  # the upload is spent: its partial file is gone
    assert not any(uploads_dir().glob("*"))


def test_a_malformed_tus_header_is_a_400(live_server_url, user):
    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    with httpx.Client(base_url=live_server_url, headers=auth, timeout=60) as c:
        r = c.post("/api/uploads/", headers={**TUS, "Upload-Length": "ten"})
        assert r.status_code == 400 and "malformed tus header" in r.json()["detail"]
        r = c.post("/api/uploads/", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename"})
        assert r.status_code == 400


def test_an_expired_unfinished_upload_and_its_file_are_removed(live_server_url, user):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.chunked import ChunkedUpload

    auth = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    with httpx.Client(base_url=live_server_url, headers=auth, timeout=60) as c:
        stale = create(c, "old.txt", 3 * CHUNK)
        assert send(c, stale, b"x" * (3 * CHUNK), 0).status_code == 204
        row = ChunkedUpload.objects.get()
        assert row.bytes_held() == CHUNK
        ChunkedUpload.objects.filter(pk=row.pk).update(expires=timezone.now() - timedelta(seconds=1))
        # a chunk's copy left by a web process killed mid-request two days ago, and one of a request now
        dead, busy = uploads_dir() / ".chunk-killed", uploads_dir() / ".assemble-running"
        uploads_dir().mkdir(parents=True, exist_ok=True)
        for path in (dead, busy):
            path.write_bytes(b"x")
        two_days_ago = time.time() - 2 * 86400  # past LAB_UPLOAD_EXPIRE_HOURS (24)
        os.utime(dead, (two_days_ago, two_days_ago))
        create(c, "new.txt", 10)  # the web process sweeps expired uploads as it makes a new one
        assert c.head(stale, headers=TUS).status_code == 404
    assert list(ChunkedUpload.objects.values_list("filename", flat=True)) == ["new.txt"]
    assert row.bytes_held() == 0  # its partial file (or its chunks in the store) went with it
    assert not dead.exists() and busy.exists()
    busy.unlink()
