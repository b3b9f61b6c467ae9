"""`Authorization: Token <key>`: one header for both kinds of key, and the scope of the key.

Two kinds of key answer to it: knox tokens (jobs/tokens.py: named, scoped, expiring, made on
the Tokens page) and DRF's authtoken keys (`manage.py drf_create_token USER`, for scripts and
the README). DRF stops at the first class that raises AuthenticationFailed, so two classes in
DEFAULT_AUTHENTICATION_CLASSES would let the first one's "Invalid token." hide a key the second
knows: this one class tries both.

Keys are hex (DRF's 40 characters, knox's 64). Anything else (a NUL byte, which PostgreSQL
text cannot hold, or a 10 kB header) used to reach the query and end in a 500; now it is a 401.
"""
from __future__ import annotations

import string

from knox.auth import TokenAuthentication as KnoxAuthentication
from rest_framework import authentication, exceptions, permissions

_HEX = set(string.hexdigits)


def looks_like_token(key: str) -> bool:
    return 0 < len(key) <= 64 and set(key) <= _HEX


def user_for_key(key: str):
    """(user, token) for a key of either kind; AuthenticationFailed when it is unknown, revoked,
    expired, malformed or its user is inactive."""
    if not looks_like_token(key):
        raise exceptions.AuthenticationFailed("Invalid token.")
    from rest_framework.authtoken.models import Token

    drf = Token.objects.select_related("user").filter(key=key).first()
    if drf is not None:
        if not drf.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return drf.user, drf
    user, token = KnoxAuthentication().authenticate_credentials(key.encode())  # expiry, is_active
    token.touch()
    return user, token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        return user_for_key(key)


class TokenScope(permissions.BasePermission):
    """A `read` token reads; every unsafe method with one is a 403 (before any object lookup,
    so it says nothing of what exists). Sessions and DRF keys have no scope: they may write."""
    message = "This token is read-only (scope 'read'): make a 'write' token to change anything."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return getattr(request.auth, "scope", "write") != "read"

