"""webapp/bodycap.py, webapp/daphne_bodycap.py: a body over LAB_MAX_BODY_BYTES is a 413 before it
is received, whether its Content-Length says so or a chunked body grows past the cap."""
import json
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from webapp.bodycap import BodySizeLimit
from webapp.http import get_asgi_application

CHUNK = 64 * 1024


def connect(url):
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
    return sock, f"{parts.hostname}:{parts.port}"


def read_response(sock) -> tuple[bytes, dict, bytes]:
    """Status line, headers, body of one response; a server that waits for the body instead
    times out here (socket timeout)."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        assert got, f"connection closed after {data!r}"
        data += got
    head, body = data.split(b"\r\n\r\n", 1)
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(b":", 1) for line in lines)}
    while len(body) < int(headers.get(b"content-length", 0)):
        body += sock.recv(65536)
    return status, headers, body


def post_head(host, *headers):
    return (f"POST /api/jobs/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


def assert_413(status, headers, body):
    assert status.split(b" ")[1] == b"413", status
    assert json.loads(body) == {"detail": "request body too large"}


@pytest.mark.parametrize("expect", [False, True])
def test_a_huge_content_length_is_a_413_before_any_body_is_sent(live_server_url, expect):
    sock, host = connect(live_server_url)
    with sock:
        extra = ["Expect: 100-continue"] if expect else []
        sock.sendall(post_head(host, f"Content-Length: {10**12}", *extra))
        status, headers, body = read_response(sock)  # not one byte of the body sent
        assert_413(status, headers, body)  # first: no "100 Continue" invites the body
        assert sock.recv(1) == b""  # the server is done with this connection


def test_a_chunked_body_is_a_413_once_it_passes_the_cap(live_server_url):
    cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    sock, host = connect(live_server_url)
    with sock:
        sock.sendall(post_head(host, "Transfer-Encoding: chunked"))
        sent = 0
        while sent <= cap:  # cap + 1 bytes in all, and no final chunk: the body never ends
            n = min(CHUNK, cap + 1 - sent)
            sock.sendall(f"{n:x}\r\n".encode() + b"x" * n + b"\r\n")
            sent += n
        assert_413(*read_response(sock))


def test_a_body_under_the_cap_reaches_the_application(live_server_url):
    sock, host = connect(live_server_url)
    with sock:
        body = json.dumps({"kind": "sample", "params": {"pad": "x" * 500_000}}).encode()
        sock.sendall(post_head(host, "Transfer-Encoding: chunked") + f"{len(body):x}\r\n".encode() + body
                     + b"\r\n0\r\n\r\n")
        status, _, answer = read_response(sock)
    assert status.split(b" ")[1] == b"401" and "credentials" in json.loads(answer)["detail"]


async def run_asgi(headers, body_size):
    """Django behind BodySizeLimit, fed a body of body_size bytes in 64 KiB pieces; returns what it
    sent and how many pieces it asked for."""
    asked, sent = [], []
    remaining = [body_size]

    async def receive():
        asked.append(1)
        n = min(CHUNK, remaining[0])
        remaining[0] -= n
        return {"type": "http.request", "body": b"x" * n, "more_body": remaining[0] > 0}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/jobs/", "raw_path": b"/api/jobs/", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers],
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "root_path": ""}
    await BodySizeLimit(get_asgi_application())(scope, receive, send)
    return sent, len(asked)


async def test_the_asgi_middleware_answers_413_without_reading_the_rest():
    cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    sent, asked = await run_asgi([(b"content-length", str(10**9).encode())], 10**9)
    assert asked == 0 and sent[0]["status"] == 413 and json.loads(sent[1]["body"])["detail"] == "request body too large"
    sent, asked = await run_asgi([], 100 * cap)  # no length given (chunked): counted as it comes
    assert asked == cap // CHUNK + 1, "not one piece past the cap was asked for"
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"] and sent[0]["status"] == 413
