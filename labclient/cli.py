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
from .lab import Job, Lab, Sweep

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
           priority: Annotated[Optional[str], typer.Option(help="low, normal or high (project admins)")] = None,
           queue: Annotated[Optional[str], typer.Option(help="a named pool such as a100")] = None,
           devices: Annotated[Optional[int], typer.Option(help="devices on each worker it runs on")] = None,
           watch_: Annotated[bool, typer.Option("--watch", help="follow it to the end")] = False,
           as_json: Annotated[bool, typer.Option("--json", help="events as JSON lines")] = False):
    """Submit a job; prints its id (or follows it with --watch)."""
    try:
        values = json.loads(params.read_text())
    except (OSError, ValueError) as exc:
        raise ApiError(400, {"params": [f"{params}: {exc}"]}) from exc
    job = _lab().submit(kind, values, project=project, name=name, priority=priority, queue=queue, devices=devices)
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
def upload(file: Path,
           kind: Annotated[str, typer.Option(help="model or dataset")],
           format_: Annotated[str, typer.Option("--format", help="diffusers, transformers, lab; npy, text, fasta, csv")],
           project: Annotated[Optional[str], typer.Option(help="project id or name")] = None,
           watch_: Annotated[bool, typer.Option("--watch", help="follow the model's validation to its end")] = False):
    """Upload a file (a zip of a model's folder, or a dataset) in chunks; prints the artifact's id."""
    lab = _lab()
    with Progress(TextColumn(file.name), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("upload", total=file.stat().st_size)
        art = lab.upload(file, kind, format_, project=project, on_progress=lambda done, _t: bar.update(task, completed=done))
    err.print(f"artifact {art['id']} ({art['name']}): validation job {art['job']} {art['status']}")
    if watch_ and art["status"] not in ("succeeded", "failed"):
        job = lab.job(art["job"]).wait()
        if job.status != "succeeded":
            err.print(f"[red]validation {job.status}:[/red] {job.error}", highlight=False)
            sys.exit(EXIT.get(job.status, 1))
    out.print(art["id"])


@app.command()
def download(job_id: int, out_dir: Annotated[Path, typer.Option("--out", help="the folder to write into")]):
    """Every artifact of the job into a folder."""
    for path in _lab().job(job_id).download(out_dir):
        print(path)


sweep_app = typer.Typer(help="Searches over a kind's params (docs/sweeps.md).", no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")


@sweep_app.command("create")
def sweep_create(spec: Annotated[Path, typer.Argument(help="a JSON file as POST /api/sweeps/ takes it")],
                 project: Annotated[Optional[str], typer.Option(help="project id or name")] = None,
                 watch_: Annotated[bool, typer.Option("--watch", help="follow it to the end")] = False,
                 as_json: Annotated[bool, typer.Option("--json", help="the sweep as JSON")] = False):
    """Create a sweep; prints its id (or follows it with --watch: exit 0 succeeded, 1 failed, 2 cancelled)."""
    try:
        body = json.loads(spec.read_text())
    except (OSError, ValueError) as exc:
        raise ApiError(400, {"spec": [f"{spec}: {exc}"]}) from exc
    if not isinstance(body, dict):
        raise ApiError(400, {"spec": [f"{spec}: must be a JSON object"]})
    sweep = _lab().sweep(body, project=project)
    if not watch_:
        print(json.dumps({"id": sweep.id, "trials": sweep.data.trials})) if as_json else out.print(sweep.id)
        return
    err.print(f"sweep {sweep.id} created")
    _follow_sweep(sweep, as_json)


@sweep_app.command("watch")
def sweep_watch(sweep_id: int, as_json: Annotated[bool, typer.Option("--json", help="each state as a JSON line")] = False):
    """Follow a sweep live to its end."""
    _follow_sweep(_lab().get_sweep(sweep_id), as_json)


@sweep_app.command("show")
def sweep_show(sweep_id: int, as_json: Annotated[bool, typer.Option("--json", help="as JSON")] = False):
    """A sweep's trials and best."""
    sweep = _lab().get_sweep(sweep_id)
    if as_json:
        from dataclasses import asdict
        print(json.dumps(asdict(sweep.data), indent=1))
        return
    out.print(_trials_table(sweep.data))


@sweep_app.command("pause")
def sweep_pause(sweep_id: int):
    """No trial starts while paused: running ones go on, queued ones are held until resume."""
    _lab().get_sweep(sweep_id).pause()
    err.print(f"sweep {sweep_id} paused")


@sweep_app.command("resume")
def sweep_resume(sweep_id: int):
    _lab().get_sweep(sweep_id).resume()
    err.print(f"sweep {sweep_id} resumed")


@sweep_app.command("cancel")
def sweep_cancel(sweep_id: int):
    """The sweep and its queued and running trials end cancelled."""
    _lab().get_sweep(sweep_id).cancel()
    err.print(f"sweep {sweep_id} cancelled")


def _trials_table(data) -> Table:
    names = list(data.space)
    table = Table("trial", "job", *names, "status", "value", title=f"sweep {data.id} {data.status}")
    best = (data.best or {}).get("job")
    for row in data.trial_rows:
        value = row["values"][0] if row["values"] and len(row["values"]) == 1 else row["values"]
        table.add_row(str(row["number"]), f"{row['job']}{' *' if row['job'] == best else ''}",
                      *(str(row["params"].get(n)) for n in names), row["status"],
                      "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value))
    return table


def _follow_sweep(sweep: Sweep, as_json: bool):
    data = sweep.data
    seen = None
    for data in sweep.updates():
        if as_json:
            print(json.dumps({"status": data.status, "trials": data.trials, "best": data.best}), flush=True)
            continue
        now = [(r["job"], r["status"]) for r in data.trial_rows]
        if now != seen:
            seen = now
            done = sum(r["status"] in ("succeeded", "failed", "cancelled") for r in data.trial_rows)
            err.print(f"sweep {sweep.id} {data.status}: {done}/{data.max_trials} trials ended"
                      + (f", best {data.best['value']} (job {data.best['job']})" if data.best else ""))
    if not as_json:
        out.print(_trials_table(data))
    err.print(f"sweep {sweep.id} {data.status}" + (f": {data.error}" if data.error else ""))
    raise typer.Exit(EXIT.get(data.status, 1))


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
