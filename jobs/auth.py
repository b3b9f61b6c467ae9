"""Token authentication that refuses malformed keys before they reach the database.

DRF's keys are 40 hex characters. Anything else (a NUL byte, which PostgreSQL text cannot
hold, or a 10 kB header) used to reach the query and end in a 500; now it is a 401.
"""
import string

from rest_framework import authentication, exceptions

_HEX = set(string.hexdigits)


def looks_like_token(key: str) -> bool:
    return 0 < len(key) <= 64 and set(key) <= _HEX


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if not looks_like_token(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
