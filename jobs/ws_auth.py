"""Websocket handshake checks: token auth for scripts, origin check for browsers."""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host


class TokenAuthMiddleware:
    """`Authorization: Token <key>` on the handshake, for scripts and notebooks."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    parts = value.decode("latin1").split()
                    if len(parts) == 2 and parts[0].lower() == "token":
                        found = await _user_for_token(parts[1])
                        if found is not None:
                            scope = {**scope, "user": found}
        return await self.app(scope, receive, send)


@database_sync_to_async
def _user_for_token(key):
    """Either kind of key (jobs/auth.py), knox's expiry and the user's is_active checked."""
    from rest_framework.exceptions import AuthenticationFailed

    from .auth import user_for_key

    try:
        return user_for_key(key)[0]
    except AuthenticationFailed:
        return None


class BrowserOriginValidator:
    """Browsers always send Origin on websockets, so a cross-site page is refused by it
    (websockets carry the session cookie but no CSRF check). Scripts send no Origin and
    must authenticate with a token, which a foreign page cannot read.

    The rule is Django's CSRF origin check: the Origin must be this request's own origin
    (its scheme, and its Host header as ALLOWED_HOSTS admits it, port included), or one of
    CSRF_TRUSTED_ORIGINS. Comparing host names alone would admit another port of the same host
    (another web app there) and plain http pages of an https site."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        if b"origin" in headers and not same_origin(headers[b"origin"].decode("latin1"), scope, headers):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def same_origin(origin: str, scope, headers: dict) -> bool:
    host = headers.get(b"host", b"").decode("latin1")
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django's get_host() admits then
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, allowed) and origin == f"{_scheme(scope, headers)}://{host}":
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(is_same_domain(parsed.netloc, urlsplit(pattern).netloc.lstrip("*")) for pattern in trusted
               if "*" in pattern and urlsplit(pattern).scheme == parsed.scheme)


def _scheme(scope, headers: dict) -> str:
    """http or https, as request.is_secure() would say: a TLS proxy in front tells it by
    SECURE_PROXY_SSL_HEADER (daphne's websocket scope carries no scheme at all)."""
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure = proxy
        value = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode(), b"").decode("latin1")
        if value.split(",", 1)[0].strip() == secure:
            return "https"
    return "http"
