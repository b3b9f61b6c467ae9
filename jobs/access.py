"""Authorization in one place: every REST view, download and websocket uses these querysets."""
from .models import Artifact, Job


def jobs_for(user):
    if not user or not user.is_authenticated:
        return Job.objects.none()
    if user.is_staff:
        return Job.objects.all()
    return Job.objects.filter(owner=user)


def artifacts_for(user):
    if not user or not user.is_authenticated:
        return Artifact.objects.none()
    if user.is_staff:
        return Artifact.objects.all()
    return Artifact.objects.filter(job__owner=user)
