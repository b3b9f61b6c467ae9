"""Dashboard pages. The pages are thin: the server renders what a first paint needs (scoped by
`jobs.access.jobs_for`, so another user's job is a 404 here exactly as in the API), and the
browser modules in static/frontend/ keep them live through /api/ and /ws/."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from jobs.access import jobs_for
from jobs.api.query import ascii_int
from jobs.models import Job

from .compare import compare_rows, numeric_results, parse_ids
from .projects import current_project

STATUSES = list(Job.Status.values)
PAGE_SIZE = 25
UPLOT_DIST = Path(__file__).resolve().parent / "node_modules" / "uplot" / "dist"
UPLOT_FILES = {"uPlot.esm.js": "text/javascript", "uPlot.min.css": "text/css"}
TUS_DIST = Path(__file__).resolve().parent / "node_modules" / "tus-js-client" / "dist"
TUS_FILES = {"tus.min.js": "text/javascript"}


def _kinds(qs):
    return sorted(set(qs.order_by().values_list("kind", flat=True).distinct()))


@login_required
@require_GET
def jobs_list(request):
    project = current_project(request)
    mine = jobs_for(request.user).filter(project=project)
    qs = mine
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    if kind:
        qs = qs.filter(kind=kind)
    if status in STATUSES:
        qs = qs.filter(status=status)
    # Only the columns the table shows: params/result JSON can be large.
    qs = qs.select_related("owner").only("id", "name", "kind", "status", "progress", "created_at", "started_at",
                                         "finished_at", "queue", "bytes_stored", "owner__username", "admitted_at",
                                         "held"
                                         ).order_by("-created_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    _with_waiting(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("deleted", None)
    deleted = request.GET.get("deleted", "")
    return render(request, "frontend/jobs_list.html", {
        "page": page, "deleted": int(deleted) if deleted.isascii() and deleted.isdigit() else None, "kinds": _kinds(mine), "statuses": STATUSES, "kind": kind, "status": status,
        "query": query.urlencode(), "nav": "jobs", "project": project,
    })


def _with_waiting(jobs) -> None:
    """`job.waiting`: (queue_position, waiting_reason, no worker) of each queued job, as the API
    answers them (jobs.api.serializers.job_answer): one statement for the page, whatever its size."""
    from jobs import scheduler
    from jobs.workers import live_queues, waiting_reason

    queued = [j for j in jobs if j.status == "queued"]
    if not queued:
        return
    ranks = scheduler.positions({j.queue for j in queued})
    live = live_queues()
    for job in queued:
        position, why = ranks.of(job.pk, job.queue) if job.admitted_at is None and not job.held else (None, None)
        no_worker = waiting_reason(job.queue, live)
        why = why or no_worker
        job.waiting = (position, why, (why or "").startswith("waiting: no worker")) if why else None


@login_required
@require_GET
def job_new(request):
    source, source_id = None, ascii_int(request.GET.get("from", ""))
    if source_id is not None:  # anything else ('²', 'abc') is no job to copy: an empty form
        source = get_object_or_404(jobs_for(request.user), pk=source_id)
    project = current_project(request)
    initial = {"kind": source.kind if source else request.GET.get("kind", ""),
               "params": source.params if source else None,
               "name": source.name if source else "", "project": project.pk}
    return render(request, "frontend/job_new.html", {"initial": initial, "source": source, "nav": "new",
                                                     "project": project})


@login_required
@require_GET
def job_detail(request, pk):
    job = get_object_or_404(jobs_for(request.user).select_related("owner", "project"), pk=pk)
    visible = jobs_for(request.user)
    # Lineage: jobs whose artifacts this job read, and jobs that read this job's artifacts.
    inputs = list(job.input_artifacts.select_related("job").order_by("id"))
    seen = set(visible.filter(pk__in={a.job_id for a in inputs}).values_list("id", flat=True))
    inputs = [a for a in inputs if a.job_id in seen]
    used_by = visible.filter(input_artifacts__job=job).distinct().order_by("id")
    from jobs.sweeps.models import SweepTrial

    trial = SweepTrial.objects.filter(job=job).select_related("sweep").first()
    return render(request, "frontend/job_detail.html", {
        "job": job, "inputs": inputs, "deleted_inputs": job.deleted_inputs, "used_by": used_by, "trial": trial,
        "boot": {"id": job.id, "kind": job.kind, "status": job.status, "progress": job.progress},
    })


@login_required
@require_GET
def compare(request):
    project = current_project(request)
    visible = jobs_for(request.user)
    mine = visible.filter(project=project)  # what the picker offers: the current project's jobs
    ids, problem = parse_ids(request.GET.getlist("ids"))
    picking = "pick" in request.GET or not ids
    if picking and problem and ids:
        problem = None  # a selection in progress ("Compare with…" from a job page) is not an error
    jobs = []
    if ids and not problem:
        found = {j.id: j for j in visible.filter(pk__in=ids)}
        if any(i not in found for i in ids):
            raise Http404("no such job")
        jobs = [found[i] for i in ids]
        if len({j.kind for j in jobs}) > 1:
            problem = "Choose jobs of one kind: their params and results only line up within a kind."
    picking = picking or bool(problem)
    kind = request.GET.get("kind") or (jobs[0].kind if jobs else "")
    candidates = []
    if picking:
        cq = mine.filter(kind=kind) if kind else mine
        candidates = list(cq.only("id", "name", "kind", "status", "created_at").order_by("-created_at", "-id")[:60])
        # keep the jobs already chosen in the list even when they are older than the newest 60
        candidates += [j for j in jobs if j not in candidates]
    params_rows, result_rows = compare_rows(jobs) if jobs and not picking else ([], [])
    return render(request, "frontend/compare.html", {
        "jobs": jobs, "problem": problem, "kind": kind, "kinds": _kinds(mine), "picking": picking,
        "candidates": candidates, "selected": set(ids), "params_rows": params_rows, "result_rows": result_rows,
        "nav": "compare", "project": project, "boot": {"ids": [j.id for j in jobs] if not picking else [],
                                   "results": numeric_results(jobs) if jobs and not picking else {}},
    })


@login_required
@require_GET
def workers(request):
    return render(request, "frontend/workers.html", {"nav": "workers"})


@login_required
@require_GET
def queue(request):
    return render(request, "frontend/queue.html", {"nav": "queue"})


@require_GET
def vendor_uplot(request, name):
    """uPlot's ES module from node_modules (installed by `npm ci --prefix frontend`), so no
    third-party code is committed and no bundler is needed."""
    return _vendor(UPLOT_DIST, UPLOT_FILES, name)


@require_GET
def vendor_tus(request, name):
    """tus-js-client's browser build (the Upload page's chunked, resumable uploads), from node_modules."""
    return _vendor(TUS_DIST, TUS_FILES, name)


def _vendor(dist: Path, files: dict, name: str):
    if name not in files:
        raise Http404(name)
    path = dist / name
    if not path.is_file():
        raise Http404("run `npm ci --prefix frontend`")
    response = FileResponse(path.open("rb"), content_type=files[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
@require_GET
def upload(request):
    project = current_project(request)
    return render(request, "frontend/upload.html", {
        "nav": "upload", "project": project,
        "boot": {"project": project.pk, "chunk_bytes": settings.LAB_UPLOAD_CHUNK_BYTES,
                 "max_bytes": settings.LAB_UPLOAD_MAX_BYTES}})


@login_required
@require_GET
def tokens(request):
    return render(request, "frontend/tokens.html", {"nav": "tokens"})


@login_required
@require_GET
def users(request):
    if not request.user.is_staff:  # as for another user's job: the page does not exist for them
        raise Http404
    return render(request, "frontend/users.html", {"nav": "users"})
