"""Logins with a brake on password guessing (Django's LoginView and admin login have none).

Failed logins are counted in Redis, shared by every web process: per username and client
address (LAB_LOGIN_MAX_FAILURES, default 5), and per address whatever the username
(LAB_LOGIN_MAX_FAILURES_PER_ADDRESS, default 4x that, against one address spraying many
accounts), each over a window of LAB_LOGIN_WINDOW_SECONDS (default 15 min) from the first
failure. There is no limit per username from anywhere: an attacker could then lock the real
user out of their account from every address. Past a limit the form answers 429 without
checking the password at all, so guesses made then cost nothing and reveal nothing. A
successful login clears its username+address counter (not the address's: one's own account
must not reset a spray). If Redis is unreachable the brake is off (logged): an outage of the
broker must not lock everyone out.

The brake sits in the authentication form, so the lab's login page and Django admin's
(`admin.site.login_form`, jobs/admin.py) share it and its counters; `answers_429` gives
either view the status code.
"""
from __future__ import annotations

import functools
import hashlib
import logging

import redis
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError

from . import workers

log = logging.getLogger(__name__)
TOO_MANY = "Too many failed logins for this account. Try again later."


def _keys(username: str, addr: str) -> list[tuple[str, int]]:
    """[(username+address key, its limit), (address key, its limit)]."""
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    base = f"{settings.LAB_KEY_PREFIX}login-failures"
    return [(f"{base}:{user}:{addr}", settings.LAB_LOGIN_MAX_FAILURES),
            (f"{base}:addr:{addr}", settings.LAB_LOGIN_MAX_FAILURES_PER_ADDRESS)]


def blocked(username: str, addr: str) -> bool:
    keys = _keys(username, addr)
    try:
        counts = workers.client().mget([k for k, _ in keys])
    except redis.RedisError:
        log.warning("login throttle unavailable (Redis)", exc_info=True)
        return False
    return any(c is not None and int(c) >= limit for c, (_, limit) in zip(counts, keys))


def failed(username: str, addr: str) -> None:
    try:
        pipe = workers.client().pipeline()
        for key, _ in _keys(username, addr):
            # the window starts at the first failure (SET NX EX works on Redis 6, unlike EXPIRE NX)
            pipe.set(key, 0, ex=settings.LAB_LOGIN_WINDOW_SECONDS, nx=True)
            pipe.incr(key)
        pipe.execute()
    except redis.RedisError:
        log.warning("login throttle unavailable (Redis)", exc_info=True)


def succeeded(username: str, addr: str) -> None:
    try:
        workers.client().delete(_keys(username, addr)[0][0])
    except redis.RedisError:
        log.warning("login throttle unavailable (Redis)", exc_info=True)


class ThrottledFormMixin:
    """clean() of an AuthenticationForm behind the brake. Success is the form's verdict, not
    `request.user`: a user already logged in who posts a wrong password for another account
    is a failure."""

    def clean(self):
        username = str(self.data.get("username", ""))[:150]
        addr = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if blocked(username, addr):
            if self.request is not None:
                self.request.login_throttled = True
            raise ValidationError(TOO_MANY, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            failed(username, addr)
            raise
        if self.get_user() is not None:  # None: a field was empty, nothing was checked
            succeeded(username, addr)
        return cleaned


class ThrottledAuthenticationForm(ThrottledFormMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledFormMixin, AdminAuthenticationForm):
    pass


def answers_429(view):
    """The login view's answer, with status 429 when its form refused to check the password."""
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if getattr(request, "login_throttled", False):
            response.status_code = 429
        return response
    return wrapped


class ThrottledLoginView(LoginView):
    template_name = "registration/login.html"
    authentication_form = ThrottledAuthenticationForm


login_view = answers_429(ThrottledLoginView.as_view())
