"""jobs/ws_auth.py: a websocket's Origin must be the page's own origin, scheme, host and port,
as Django's CSRF check has it, or one of CSRF_TRUSTED_ORIGINS; a real client against daphne."""
from urllib.parse import urlsplit

import pytest
from channels.testing import WebsocketCommunicator
from websockets.exceptions import InvalidStatus

from jobs.ws_auth import BrowserOriginValidator
from tests.helpers import ws_connect
from tests.procs import start_web, stop

pytestmark = pytest.mark.django_db(transaction=True)


def refused(url, token, origin) -> bool:
    try:
        with ws_connect(url, "/ws/jobs/", token=token, origin=origin):
            pass
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return True
    return False


def test_only_the_servers_own_scheme_host_and_port_are_its_origin(live_server_url, token):
    port = urlsplit(live_server_url).port
    assert not refused(live_server_url, token, f"http://127.0.0.1:{port}")
    assert refused(live_server_url, token, f"http://127.0.0.1:{port + 1}")  # another app on the same host
    assert refused(live_server_url, token, "http://127.0.0.1")
    assert refused(live_server_url, token, f"https://127.0.0.1:{port}")  # the request came over http
    assert refused(live_server_url, token, f"http://localhost:{port}")  # allowed host, but not this page's
    assert refused(live_server_url, token, "null")


@pytest.fixture
def web_with_trusted_origins():
    proc, out, url = start_web({"DJANGO_CSRF_TRUSTED_ORIGINS": "https://lab.example.org,https://*.example.net"})
    yield url
    stop(proc)


def test_csrf_trusted_origins_are_matched_with_their_scheme_and_port(web_with_trusted_origins, token):
    url = web_with_trusted_origins
    for origin in ("https://lab.example.org", "https://example.net", "https://a.b.example.net"):
        assert not refused(url, token, origin), origin
    for origin in ("http://lab.example.org", "https://lab.example.org:8443", "http://a.example.net",
                   "https://evil-example.net", "https://lab.example.org.evil.example"):
        assert refused(url, token, origin), origin


async def accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})


async def handshake(origin, headers=()):
    comm = WebsocketCommunicator(BrowserOriginValidator(accept), "/ws/jobs/",
                                 headers=[(b"host", b"lab.example.org"), (b"origin", origin.encode()), *headers])
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


async def test_behind_a_tls_proxy_the_origin_is_https(settings):
    settings.ALLOWED_HOSTS = ["lab.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", b"https")]
    assert await handshake("https://lab.example.org", proxied)
    assert not await handshake("http://lab.example.org", proxied)
    assert not await handshake("https://lab.example.org")  # no proxy said so: the socket is plain ws
    assert await handshake("http://lab.example.org")
    settings.ALLOWED_HOSTS = ["other.example.org"]  # a Host that ALLOWED_HOSTS refuses is no origin
    assert not await handshake("https://lab.example.org", proxied)
