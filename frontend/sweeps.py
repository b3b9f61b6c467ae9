"""The sweep pages: the current project's sweeps, and one sweep live (static/frontend/page_sweep.js)."""
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from jobs.sweeps.api import sweep_answer
from jobs.sweeps.control import sweeps_for

from .projects import current_project


@login_required
@require_GET
def sweeps_list(request):
    project = current_project(request)
    sweeps = sweeps_for(request.user).filter(project=project).annotate(n_trials=Count("trials")).order_by("-created_at")[:100]
    return render(request, "frontend/sweeps_list.html", {"sweeps": sweeps, "project": project, "nav": "sweeps"})


@login_required
@require_GET
def sweep_detail(request, pk):
    sweep = get_object_or_404(sweeps_for(request.user).select_related("owner", "project"), pk=pk)
    return render(request, "frontend/sweep_detail.html", {"sweep": sweep, "boot": sweep_answer(sweep),
                                                          "nav": "sweeps"})
