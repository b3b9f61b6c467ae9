"""API tokens with a name, a scope and a last-used time: knox's token model extended.

Knox (django-rest-knox) keeps only a digest of each key, so a key is shown once, when it is
made. The lab's model is knox's own (`KNOX_TOKEN_MODEL`), with the few fields knox has not:
a name (one per script or CI job), the scope (`read` refuses every unsafe method, see
jobs.auth.TokenScope) and when the key was last used. A revoked token is deleted: its digest
is gone and the key answers 401. Its own integer id names it in `/api/tokens/<id>/` (knox's
primary key is the digest, which must never leave the server).
"""
from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS

# a key used many times a second updates last_used once a minute, not on every request
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiToken(AbstractAuthToken):
    class Scope(models.TextChoices):
        READ = "read"
        WRITE = "write"

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True)
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.WRITE)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.user} / {self.name} ({self.scope})"

    def touch(self) -> None:
        """Record a use; at most one write per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used is not None and now - self.last_used < LAST_USED_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).filter(
            models.Q(last_used__isnull=True) | models.Q(last_used__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used=now)
        self.last_used = now
