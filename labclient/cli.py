"""`lab`: the command-line client. URL and token from LAB_URL / LAB_TOKEN or `lab login`."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import config
from .errors import ApiError
from .lab import Job, Lab

app = typer.Typer(help="The generative-model lab from the terminal.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
out = Console()
err = Console(stderr=True)
# `lab watch`'s exit code by how the job ended
EXIT = {"succeeded": 0, "failed": 1, "cancelled": 2}


def _lab() -> Lab:
    return Lab()


@app.command()
def login(url: Annotated[Optional[str], typer.Option(help="the lab's address")] = None,
          token: Annotated[Optional[str], typer.Option(help="an API token (else a username and password)")] = None):
    """Store the lab's URL and a token in the user's config dir (0600)."""
    url = (url or typer.prompt("Lab URL", default="http://127.0.0.1:8000")).rstrip("/")
    if token is None:
        token = typer.prompt("API token (empty: log in with a username and password)", default="",
                             show_default=False, hide_input=True)
    if not token:
        token = _token_from_password(url, typer.prompt("Username"), typer.prompt("Password", hide_input=True))
    Lab(url, token).call("GET", "/api/projects/")  # a wrong token is a 401 now, not at the next command
    err.print(f"logged in to {url}; saved in {config.save(url, token)}")


def _token_from_password(url: str, username: str, password: str) -> str:
    """The login form (session + CSRF), then POST /api/tokens/ for a named write token."""
    with httpx.Client(base_url=url, timeout=60) as http:
        http.get("/accounts/login/")
        csrf = http.cookies.get("csrftoken", "")
        r = http.post("/accounts/login/", data={"username": username, "password": password,
                                                "csrfmiddlewaretoken": csrf}, headers={"Referer": f"{url}/"})
        if "sessionid" not in http.cookies:
            raise ApiError(401, "wrong username or password")
        r = http.post("/api/tokens/", json={"name": f"lab cli on {socket.gethostname()}", "scope": "write"},
                      headers={"X-CSRFToken": http.cookies.get("csrftoken", csrf), "Referer": f"{url}/"})
        if r.status_code != 201:
            raise ApiError(r.status_code, r.text)
        return r.json()["key"]


@app.command()
def submit(kind: str,
           params: Annotated[Path, typer.Option("--params", help="a JSON file of the kind's params")],
           project: Annotated[Optional[str], typer.Option(help="project id or name")] = None,
           name: Annotated[str, typer.Option(help="the job's name")] = "",
           watch_: Annotated[bool, typer.Option("--watch", help="follow it to the end")] = False,
           as_json: Annotated[bool, typer.Option("--json", help="events as JSON lines")] = False):
    """Submit a job; prints its id (or follows it with --watch)."""
    try:
        values = json.loads(params.read_text())
    except (OSError, ValueError) as exc:
        raise ApiError(400, {"params": [f"{params}: {exc}"]}) from exc
    job = _lab().submit(kind, values, project=project, name=name)
    if not watch_:
        out.print(job.id) if not as_json else print(json.dumps({"id": job.id}))
        return
    err.print(f"job {job.id} submitted")
    _follow(job, as_json)


@app.command()
def watch(job_id: int, as_json: Annotated[bool, typer.Option("--json", help="events as JSON lines")] = False):
    """Follow a job live to its end; exit 0 succeeded, 1 failed, 2 cancelled."""
    _follow(_lab().job(job_id), as_json)


def _follow(job: Job, as_json: bool):
    status = job.data.status
    if as_json:
        for ev in job.events():
            print(json.dumps({"seq": ev.seq, "type": ev.type, "data": ev.data, "ts": ev.ts}), flush=True)
            status = ev.data.get("status", status) if ev.type == "status" else status
    else:
        columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"job {job.id} {status}", total=None)
            for ev in job.events():
                if ev.type == "progress":
                    bar.update(task, completed=ev.data.get("done", 0), total=ev.data.get("total") or None)
                elif ev.type == "status":
                    status = ev.data.get("status", status)
                    bar.update(task, description=f"job {job.id} {status}")
                    if ev.data.get("error"):
                        bar.console.print(f"[red]{ev.data['error']}[/red]")
                elif ev.type == "log":
                    bar.console.print(ev.data.get("text", ""), markup=False, highlight=False)
                elif ev.type == "metric":
                    bar.console.print(f"{ev.data.get('name')} = {ev.data.get('value')} (step {ev.data.get('step')})")
    if status not in EXIT:
        status = job.refresh().status
    err.print(f"job {job.id} {status}")
    raise typer.Exit(EXIT.get(status, 1))


@app.command()
def logs(job_id: int):
    """The job's log lines so far."""
    for line in _lab().job(job_id).logs():
        print(line)


@app.command("ls")
def list_jobs(status: Annotated[Optional[str], typer.Option(help="only jobs with this status")] = None,
              kind: Annotated[Optional[str], typer.Option(help="only jobs of this kind")] = None,
              as_json: Annotated[bool, typer.Option("--json", help="the jobs as a JSON list")] = False):
    """The jobs you see, newest first."""
    jobs = _lab().jobs(status=status, kind=kind)
    if as_json:
        from dataclasses import asdict
        print(json.dumps([asdict(j) for j in jobs], indent=1))
        return
    table = Table("id", "kind", "name", "status", "progress", "project", "created")
    for j in jobs:
        table.add_row(str(j.id), j.kind, j.name, j.status, f"{100 * (j.progress or 0):.0f}%", str(j.project),
                      j.created_at)
    out.print(table)


@app.command()
def cancel(job_id: int):
    """Ask a job to stop; it ends `cancelled`."""
    _lab().job(job_id).cancel()
    err.print(f"job {job_id}: cancel requested")


@app.command()
def download(job_id: int, out_dir: Annotated[Path, typer.Option("--out", help="the folder to write into")]):
    """Every artifact of the job into a folder."""
    for path in _lab().job(job_id).download(out_dir):
        print(path)


def main():
    try:
        app()
    except ApiError as exc:
        # a 400 names the fields: say which and why, never a traceback
        err.print(f"[red]error {exc.status}[/red]")
        for line in exc.field_lines():
            err.print(f"  {line}", markup=False, highlight=False)
        sys.exit(3 if exc.status != 400 else 4)
    except (httpx.TransportError, ConnectionError) as exc:
        err.print(f"[red]cannot reach the lab:[/red] {exc}")
        sys.exit(3)


if __name__ == "__main__":
    main()
