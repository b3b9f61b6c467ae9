"""A password a lab admin made or typed for a new user (jobs/api/users.py) is for one login: until
the user chooses their own, their session reaches only the password-change page and logout.

The flag is a row (one per such user), read once at login into the session, so requests after it
cost no query. The API answers 403 in words rather than a redirect a script cannot follow; token
requests are not held (a flagged user cannot make a token: that needs the session).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import models
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

SESSION_KEY = "lab_password_change_required"
MESSAGE = "an admin set this account's password: choose your own at {url} first"


class PasswordChangeRequired(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="password_change_required")
    created_at = models.DateTimeField(auto_now_add=True)


def require_change(user) -> None:
    PasswordChangeRequired.objects.get_or_create(user=user)


def changed(request, user) -> None:
    PasswordChangeRequired.objects.filter(user=user).delete()
    request.session.pop(SESSION_KEY, None)


def flag_session_on_login(sender, request, user, **kwargs):
    if PasswordChangeRequired.objects.filter(user=user).exists():
        request.session[SESSION_KEY] = True


class RequirePasswordChange:
    """After AuthenticationMiddleware: a flagged session gets the change page, logout and static files only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) and request.user.is_authenticated:
            url = reverse("password_change")
            allowed = (url, reverse("password_change_done"), reverse("logout"), settings.STATIC_URL)
            if not request.path.startswith(allowed):
                if request.path.startswith("/api/") or request.path.startswith("/ws/"):
                    return JsonResponse({"detail": MESSAGE.format(url=url)}, status=403)
                return redirect(f"{url}?next={request.get_full_path()}")
        return self.get_response(request)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "frontend/change_password.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "required": bool(self.request.session.get(SESSION_KEY))}

    def form_valid(self, form):
        response = super().form_valid(form)
        changed(self.request, form.user)
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    def get(self, request, *args, **kwargs):
        return redirect("/")
