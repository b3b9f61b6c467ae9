"""Websocket handshake checks: token auth for scripts, origin check for browsers."""
from __future__ import annotations

from urllib.parse import urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings


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
    from rest_framework.authtoken.models import Token

    from .auth import looks_like_token

    if not looks_like_token(key):
        return None
    tok = Token.objects.select_related("user").filter(key=key).first()
    return tok.user if tok and tok.user.is_active else None


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin on websockets, so a cross-site page is refused by it
    (websockets carry the session cookie but no CSRF check). Scripts send no Origin and
    must authenticate with a token, which a foreign page cannot read."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not hosts:
            hosts = ["localhost", "127.0.0.1", "[::1]"]
        trusted = [urlparse(o).hostname for o in settings.CSRF_TRUSTED_ORIGINS]
        host = parsed_origin.hostname or ""
        return any(self.match_allowed_origin(parsed_origin, pattern) for pattern in hosts + trusted) or host in trusted
