"""Login with a brake on password guessing (Django's LoginView has none).

Failed logins are counted in Redis, shared by every web process: per username and
client address (LAB_LOGIN_MAX_FAILURES, default 5) and per username from anywhere (4x
that, against guessing spread over many addresses), each over a window of
LAB_LOGIN_WINDOW_SECONDS (default 15 min) from the first failure. Past a limit the form
answers 429 without checking the password at all, so guesses made then cost nothing and
reveal nothing. A successful login clears its username+address counter. If Redis is
unreachable the brake is off (logged): an outage of the broker must not lock everyone out.
"""
from __future__ import annotations

import hashlib
import logging

import redis
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.forms.utils import ErrorDict

from . import workers

log = logging.getLogger(__name__)


def _keys(username: str, addr: str) -> list[tuple[str, int]]:
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    limit = settings.LAB_LOGIN_MAX_FAILURES
    base = f"{settings.LAB_KEY_PREFIX}login-failures:{user}"
    return [(f"{base}:{addr}", limit), (base, 4 * limit)]


def blocked(username: str, addr: str) -> bool:
    try:
        counts = workers.client().mget([k for k, _ in _keys(username, addr)])
    except redis.RedisError:
        log.warning("login throttle unavailable (Redis)", exc_info=True)
        return False
    return any(c is not None and int(c) >= limit for c, (_, limit) in zip(counts, _keys(username, addr)))


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


class ThrottledLoginView(LoginView):
    template_name = "registration/login.html"

    def post(self, request, *args, **kwargs):
        username = str(request.POST.get("username", ""))[:150]
        addr = request.META.get("REMOTE_ADDR", "")
        if blocked(username, addr):
            form = self.get_form()
            # errors set without running the form's clean(): no password is checked while blocked
            form._errors = ErrorDict({"__all__": form.error_class([
                "Too many failed logins for this account. Try again later."])})
            form.cleaned_data = {}
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            succeeded(username, addr)
        else:
            failed(username, addr)
        return response
