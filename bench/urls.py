"""The project's URLs plus a bare Django JSON view of the same job rows, the reference
the REST list is measured against."""
from django.http import JsonResponse
from django.urls import path

from jobs.access import jobs_for
from webapp.urls import urlpatterns as project_urls

FIELDS = ["id", "name", "kind", "params", "status", "progress", "result", "error", "created_at", "started_at",
          "finished_at", "owner__username"]


def bare_jobs(request):
    rows = list(jobs_for(request.user).values(*FIELDS)[:50])
    return JsonResponse({"count": len(rows), "results": rows})


urlpatterns = [path("bare/jobs/", bare_jobs), *project_urls]
