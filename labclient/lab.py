"""`Lab(url, token)`: the REST API (docs/api.md) and a job's live events."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx

from . import config
from .errors import ApiError
from .stream import follow, follow_sweep
from .types import Artifact, Event, JobData, SweepData


class Lab:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0):
        saved = config.resolve()
        self.url = (url or saved.get("url") or "").rstrip("/")
        self.token = token or saved.get("token")
        if not self.url or not self.token:
            raise ApiError(401, "no lab URL or token: set LAB_URL and LAB_TOKEN, or run `lab login`")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Token {self.token}"},
                                 timeout=timeout)

    def call(self, method: str, path: str, **kwargs):
        r = self.http.request(method, path, **kwargs)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = r.text
            raise ApiError(r.status_code, body)
        return r.json() if r.content else None

    def project_id(self, project: int | str | None) -> int | None:
        """A project by id or by name."""
        if project is None or isinstance(project, int) or str(project).isdigit():
            return None if project is None else int(project)
        for p in self.call("GET", "/api/projects/"):
            if p["name"] == project:
                return p["id"]
        raise ApiError(404, {"project": [f"no project named {project!r} of yours"]})

    def submit(self, kind: str, params: dict, project: int | str | None = None, name: str = "",
               priority: str | None = None, queue: str | None = None, devices: int | None = None) -> "Job":
        body = {"kind": kind, "params": params, "name": name}
        if devices is not None:  # devices on each worker it runs on (docs/scheduling.md#devices)
            body["devices"] = devices
        if queue is not None:  # a named pool (a100...); default the kind's queue
            body["queue"] = queue
        if priority is not None:  # low, normal, or high (a project admin's)
            body["priority"] = priority
        if project is not None:
            body["project"] = self.project_id(project)
        return Job(self, JobData.from_api(self.call("POST", "/api/jobs/", json=body)))

    def upload(self, path: str | os.PathLike, kind: str, format: str, project: int | str | None = None,
               on_progress=None) -> dict:
        """Upload a file (a zip of a model's folder, or a dataset file) in chunks that resume, and make it an
        artifact (POST /api/artifacts/): the artifact, with `job` (its validation) and `status`."""
        from .upload import send_file

        guid = send_file(self.http, Path(path), on_progress=on_progress)
        body = {"upload": guid, "kind": kind, "format": format}
        if project is not None:
            body["project"] = self.project_id(project)
        return self.call("POST", "/api/artifacts/", json=body)

    def sweep(self, spec: dict | None = None, /, **fields) -> "Sweep":
        """Create a sweep (docs/sweeps.md): `spec` as POST /api/sweeps/ takes it, or its fields by name,
        e.g. `lab.sweep(kind="sample", params=p, space={"nfe": {"values": [5, 10]}}, method="grid",
        objective={"key": "exact_rmse", "goal": "min"})`; `project` by id or name."""
        body = {**(spec or {}), **{k: v for k, v in fields.items() if v is not None}}
        if body.get("project") is not None:
            body["project"] = self.project_id(body["project"])
        return Sweep(self, SweepData.from_api(self.call("POST", "/api/sweeps/", json=body)))

    def get_sweep(self, sweep_id: int) -> "Sweep":
        return Sweep(self, SweepData.from_api(self.call("GET", f"/api/sweeps/{sweep_id}/")))

    def job(self, job_id: int) -> "Job":
        return Job(self, JobData.from_api(self.call("GET", f"/api/jobs/{job_id}/")))

    def jobs(self, status: str | None = None, kind: str | None = None) -> list[JobData]:
        """Every job the user sees, newest first, all pages."""
        query = {k: v for k, v in (("status", status), ("kind", kind)) if v}
        page, out = self.call("GET", "/api/jobs/", params=query), []
        while True:
            out += [JobData.from_api(row) for row in page["results"]]
            if not page.get("next"):
                return out
            page = self.call("GET", page["next"])


class Job:
    def __init__(self, lab: Lab, data: JobData):
        self.lab, self.data, self.id = lab, data, data.id

    def __repr__(self):
        return f"<Job {self.id} {self.data.kind} {self.data.status}>"

    def refresh(self) -> JobData:
        self.data = JobData.from_api(self.lab.call("GET", f"/api/jobs/{self.id}/"))
        return self.data

    @property
    def status(self) -> str:
        return self.refresh().status

    @property
    def result(self):
        return self.refresh().result

    def events(self, after: int = 0, **kwargs) -> Iterator[Event]:
        """Live, over the websocket: every event after `after` up to the final status, each once."""
        return follow(self.lab.url, self.lab.token, self.id, after=after, **kwargs)

    def stored_events(self, after: int = 0) -> list[Event]:
        return [Event.from_api(e) for e in self.lab.call("GET", f"/api/jobs/{self.id}/events/",
                                                          params={"after": after})]

    def logs(self) -> list[str]:
        return [e.data.get("text", "") for e in self.stored_events() if e.type == "log"]

    def wait(self) -> JobData:
        """Blocks until the job has ended (over the websocket); the job as it ended."""
        for _ in self.events():
            pass
        return self.refresh()

    def cancel(self) -> None:
        self.lab.call("POST", f"/api/jobs/{self.id}/cancel/")

    def artifacts(self) -> list[Artifact]:
        return [Artifact.from_api(a) for a in self.lab.call("GET", f"/api/jobs/{self.id}/artifacts/")]

    def download(self, folder: str | os.PathLike) -> list[Path]:
        """Every artifact of the job into `folder` under its own name; the paths written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for art in self.artifacts():
            path = folder / Path(art.name).name
            part = path.with_name(path.name + ".part")  # a broken download never looks whole
            with self.lab.http.stream("GET", art.url) as r:
                if r.status_code >= 400:
                    raise ApiError(r.status_code, f"download of {art.name}")
                with open(part, "wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
            os.replace(part, path)
            paths.append(path)
        return paths


class Sweep:
    def __init__(self, lab: Lab, data: SweepData):
        self.lab, self.data, self.id = lab, data, data.id

    def __repr__(self):
        return f"<Sweep {self.id} {self.data.method} {self.data.status}>"

    def refresh(self) -> SweepData:
        self.data = SweepData.from_api(self.lab.call("GET", f"/api/sweeps/{self.id}/"))
        return self.data

    @property
    def status(self) -> str:
        return self.refresh().status

    @property
    def best(self) -> dict | None:
        return self.refresh().best

    def trials(self) -> list[Job]:
        return [self.lab.job(job_id) for job_id in self.refresh().trials]

    def updates(self) -> Iterator[SweepData]:
        """Live, over the websocket: the sweep at each change, up to its end."""
        for row in follow_sweep(self.lab.url, self.lab.token, self.id):
            self.data = SweepData.from_api(row)
            yield self.data

    def wait(self) -> SweepData:
        for _ in self.updates():
            pass
        return self.data

    def pause(self) -> None:
        self.data = SweepData.from_api(self.lab.call("POST", f"/api/sweeps/{self.id}/pause/"))

    def resume(self) -> None:
        self.data = SweepData.from_api(self.lab.call("POST", f"/api/sweeps/{self.id}/resume/"))

    def cancel(self) -> None:
        self.data = SweepData.from_api(self.lab.call("POST", f"/api/sweeps/{self.id}/cancel/"))
