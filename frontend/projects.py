"""The current project of a dashboard session, and the project pages.

The current project is kept in the session (default: the user's personal one); the jobs list, compare
and the new-job form show it. A project the user has left since is forgotten, never shown."""
from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from jobs import membership
from jobs.access import RANK, may_manage, projects_for
from jobs.api.query import ascii_int
from jobs.projects import Membership, personal_project
from jobs.services import BadInput, NoSuchProject, NotAllowed

SESSION_KEY = "project"


def _projects(request) -> list:
    """The user's projects, read once per request (the page and the header's switcher both need them)."""
    if not hasattr(request, "_lab_projects"):
        request._lab_projects = list(projects_for(request.user))
    return request._lab_projects


def current_project(request):
    chosen = request.session.get(SESSION_KEY)
    mine = _projects(request)
    for project in mine:
        if project.pk == chosen:
            return project
    for project in mine:
        if project.personal_of_id == request.user.pk:
            return project
    project = personal_project(request.user)  # a user who never logged in through the form (a test, a script)
    del request._lab_projects
    return project


def switcher(request) -> dict:
    """What the header's project switcher shows."""
    current = current_project(request)
    return {"current": current, "projects": _projects(request)}


@login_required
@require_POST
def switch(request):
    project_id = ascii_int(request.POST.get("project", ""))
    if project_id is None or not projects_for(request.user).filter(pk=project_id).exists():
        raise Http404("no such project")
    request.session[SESSION_KEY] = project_id
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()) or re.match(
            r"/(jobs|projects)/\d+/", back):  # a job's or project's page is not the new project's: go to its jobs
        back = "/"
    return redirect(back)


@login_required
def projects_page(request):
    if request.method == "POST":
        try:
            project = membership.create_project(request.user, request.POST.get("name", ""))
        except BadInput as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()))
            return redirect("frontend:projects")
        request.session[SESSION_KEY] = project.pk
        return redirect("frontend:project", project.pk)
    roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
    rows = [{"project": p, "role": roles.get(p.pk, "admin")} for p in projects_for(request.user)]
    return render(request, "frontend/projects.html", {"rows": rows, "nav": "projects"})


def _project_or_404(request, pk):
    try:
        return membership.visible_project(request.user, pk)
    except NoSuchProject:
        raise Http404("no such project")


@login_required
@require_GET
def project_page(request, pk):
    project, role = _project_or_404(request, pk)
    return render(request, "frontend/project.html", {
        "project": project, "role": role, "members": membership.members(project), "usage": membership.usage(project),
        "manage": may_manage(request.user, project.pk), "roles": list(RANK), "nav": "projects",
    })


@login_required
@require_POST
def project_members(request, pk):
    """The project page's forms: add or change (`role`) or remove (`remove`) a member by username, the quota
    (`max_running`) and preemption (`preemptible`)."""
    project, _role = _project_or_404(request, pk)
    username = request.POST.get("username", "").strip()
    try:
        if "remove" in request.POST:
            membership.remove_member(request.user, project.pk, username)
            messages.success(request, f"{username} was removed from {project.name}.")
        elif "max_running" in request.POST:
            raw = request.POST["max_running"].strip()
            value = ascii_int(raw) if raw else None
            membership.set_max_running(request.user, project.pk, value if raw == "" or value is not None else -1)
            messages.success(request, "The quota was saved.")
        elif "preemptible" in request.POST:
            # the hidden 0 comes first, the checkbox's 1 after it when ticked
            on = request.POST.getlist("preemptible")[-1] == "1"
            membership.set_preemptible(request.user, project.pk, on)
            messages.success(request, "High jobs may now stop this project's low jobs." if on else
                             "High jobs no longer stop this project's low jobs.")
        else:
            m = membership.set_member(request.user, project.pk, username, request.POST.get("role", ""))
            messages.success(request, f"{m.user.get_username()} is {m.role} of {project.name}.")
    except BadInput as exc:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()))
    except NotAllowed as exc:
        messages.error(request, str(exc))
    if not Membership.objects.filter(project=project, user=request.user).exists() and \
            not request.user.is_staff:
        return redirect("frontend:projects")  # they left it
    return redirect("frontend:project", project.pk)
