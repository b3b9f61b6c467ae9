"""Projects with roles: each role x action cell answers exactly its status, over REST and websockets.

alice is admin of the project "team" and owns its jobs; bob is a viewer, member or admin there, or
not in it (outsider), or not signed in (anonymous). Rules (jobs/access.py): viewers read, members also
launch, change their own jobs and use the project's models, admins also manage members and the quota
and change any job; the rest get 404 (401 without login)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from websockets.exceptions import ConnectionClosed

from jobs import membership
from jobs.models import Artifact, Job
from jobs.projects import Membership, personal_project
from jobs.services import cancel_job, create_job
from tests.helpers import store_artifact, wait_for_status, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("viewer", "member", "admin", "outsider", "anonymous")
CHEAP = {"nfe": 5, "n_samples": 10}
# a tiny rectified flow on two moons, trained once in the terminal: a real model for the input cells
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 20, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 5, "checkpoint_every": 20, "eval_every": 1000, "log_every": 20,
         "eval_samples": 64, "seed": 3, "device": "cpu"}


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    (root / "params.json").write_text(json.dumps(TRAIN))
    subprocess.run([sys.executable, "-m", "ml.train", "--params", str(root / "params.json"), "--out", str(root / "out")],
                   check=True, capture_output=True, timeout=300)
    return root / "out"


class Team:
    """The project, alice's jobs in it, and bob with his role."""

    def __init__(self, alice, bob, role, model_folder):
        self.alice, self.bob, self.role = alice, bob, role
        self.project = membership.create_project(alice, "team")
        if role in ("viewer", "member", "admin"):
            Membership.objects.create(project=self.project, user=bob, role=role)
        self.carol = get_user_model().objects.create_user("carol", password="pw")
        Membership.objects.create(project=self.project, user=self.carol, role="viewer")
        self.queued = create_job(alice, "sample", CHEAP, "alice queued", [], send=False, project=self.project)
        self.finished = self.job_with_model(alice, model_folder)
        self.model = self.finished.artifacts.get(name="model.safetensors")

    def job_with_model(self, owner, model_folder) -> Job:
        job = create_job(owner, "train", {}, "trained", [], send=False, project=self.project)
        Job.objects.filter(pk=job.pk).update(status="succeeded")
        for name in ("model.safetensors", "model.json"):  # where the lab keeps files: MEDIA_ROOT or the store
            store_artifact(job, name, "model" if name.endswith("safetensors") else "config",
                           (model_folder / name).read_bytes())
        job.refresh_from_db()
        return job

    def client(self) -> APIClient:
        client = APIClient()
        if self.role != "anonymous":
            client.force_authenticate(self.bob)
        return client


@pytest.fixture
def team_of(user, other_user, model_folder):
    made = []

    def make(role):
        made.append(Team(user, other_user, role, model_folder))
        return made[-1]

    yield make
    # end what the cells launched before the database is flushed (a session worker may have taken them)
    root = get_user_model().objects.create_superuser("root", password="pw")
    for job in Job.objects.filter(status__in=Job.ACTIVE):
        cancel_job(root, job.pk)
        wait_for_status(job.pk, {"succeeded", "failed", "cancelled"}, timeout=120)


def act(team: Team, action: str):
    c, p = team.client(), team.project.pk
    json_ = {"format": "json", "HTTP_ACCEPT": "application/json"}
    return {
        "read": lambda: c.get(f"/api/jobs/{team.queued.pk}/", **json_),
        "events": lambda: c.get(f"/api/jobs/{team.queued.pk}/events/", **json_),
        "artifacts": lambda: c.get(f"/api/jobs/{team.finished.pk}/artifacts/", **json_),
        "compare page": lambda: _page(team, f"/compare/?ids={team.queued.pk},{team.finished.pk}"),
        "job page": lambda: _page(team, f"/jobs/{team.queued.pk}/"),
        "launch": lambda: c.post("/api/jobs/", {"kind": "sample", "params": CHEAP, "project": p}, **json_),
        "cancel": lambda: c.post(f"/api/jobs/{team.queued.pk}/cancel/", **json_),
        "retry": lambda: c.post(f"/api/jobs/{team.finished.pk}/retry/", **json_),
        "delete": lambda: c.delete(f"/api/jobs/{team.finished.pk}/", **json_),
        "download": lambda: c.get(f"/api/artifacts/{team.model.pk}/download/", **json_),
        # a model of the team into bob's personal project
        "use as input": lambda: c.post("/api/jobs/", {"kind": "sample", "params": {**CHEAP, "model": {
            "artifact": team.model.pk}}}, **json_),
        "add member": lambda: c.post(f"/api/projects/{p}/members/", {"username": "dave", "role": "viewer"}, **json_),
        "change role": lambda: c.post(f"/api/projects/{p}/members/", {"username": "carol", "role": "member"},
                                      **json_),
        "remove member": lambda: c.delete(f"/api/projects/{p}/members/carol/", **json_),
        "set quota": lambda: c.patch(f"/api/projects/{p}/", {"max_running": 2}, **json_),
        "project": lambda: c.get(f"/api/projects/{p}/", **json_),
    }[action]()


def _page(team, path):
    from django.test import Client

    client = Client()
    if team.role != "anonymous":
        client.force_login(team.bob)
    return client.get(path)


#                viewer member admin outsider anonymous
EXPECTED = {
    "read":          (200, 200, 200, 404, 401),
    "events":        (200, 200, 200, 404, 401),
    "artifacts":     (200, 200, 200, 404, 401),
    "job page":      (200, 200, 200, 404, 302),
    "compare page":  (200, 200, 200, 404, 302),
    "launch":        (400, 201, 201, 400, 401),
    "cancel":        (403, 403, 202, 404, 401),
    "retry":         (403, 403, 201, 404, 401),
    "delete":        (403, 403, 204, 404, 401),
    "download":      (200, 200, 200, 404, 401),
    "use as input":  (400, 201, 201, 400, 401),
    "add member":    (403, 403, 201, 404, 401),
    "change role":   (403, 403, 200, 404, 401),
    "remove member": (403, 403, 204, 404, 401),
    "set quota":     (403, 403, 200, 404, 401),
    "project":       (200, 200, 200, 404, 401),
}


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_rest_cell(team_of, role, action):
    get_user_model().objects.create_user("dave", password="pw")
    team = team_of(role)
    expected = EXPECTED[action][ROLES.index(role)]
    r = act(team, action)
    assert r.status_code == expected, (role, action, r.status_code, r.content[:300])
    if expected == 400:  # refusals name the field
        field = "project" if action == "launch" else "params"
        assert field in r.json(), r.content
        if action == "use as input":
            assert "model.artifact" in r.json()["params"]
    if action == "launch" and expected == 201:
        assert r.json()["project"] == team.project.pk and r.json()["owner"] == "bob"
    if action == "use as input" and expected == 201:
        # the model crossed into bob's personal project, and the new job records where it came from
        assert r.json()["project"] == personal_project(team.bob).pk
        assert r.json()["input_artifacts"] == [team.model.pk]
    if action == "retry" and expected == 201:
        assert r.json()["project"] == team.project.pk and r.json()["owner"] == "bob"
    if action in ("cancel", "delete") and expected in (403, 404, 401):
        assert Job.objects.get(pk=(team.queued if action == "cancel" else team.finished).pk).cancel_requested is False
    if action == "project" and expected == 200:
        assert r.json()["role"] == role
        assert {m["username"]: m["role"] for m in r.json()["members"]}["alice"] == "admin"


OWN = {"cancel": (403, 202, 202), "retry": (403, 201, 201), "delete": (403, 204, 204)}


@pytest.mark.parametrize("action", list(OWN))
@pytest.mark.parametrize("role", ("viewer", "member", "admin"))
def test_own_job_cell(team_of, role, action):
    """bob's own job in the team (a viewer's: launched before he was made viewer)."""
    team = team_of(role)
    mine = create_job(team.bob, "sample", CHEAP, "bob's", [], send=False, project=team.project)
    if action != "cancel":
        Job.objects.filter(pk=mine.pk).update(status="succeeded")
    c = team.client()
    r = {"cancel": lambda: c.post(f"/api/jobs/{mine.pk}/cancel/"), "retry": lambda: c.post(f"/api/jobs/{mine.pk}/retry/"),
         "delete": lambda: c.delete(f"/api/jobs/{mine.pk}/")}[action]()
    assert r.status_code == OWN[action][("viewer", "member", "admin").index(role)], r.content


def test_a_model_of_a_project_where_bob_only_views_goes_into_none_of_his_jobs(team_of):
    team = team_of("member")
    other = membership.create_project(team.alice, "elsewhere")
    Membership.objects.create(project=other, user=team.bob, role="viewer")
    r = team.client().post("/api/jobs/", {"kind": "sample", "params": CHEAP, "project": other.pk}, format="json")
    assert r.status_code == 400 and "project" in r.json(), r.content
    # and his member rights in the team do not carry a model of `other` anywhere
    elsewhere = create_job(team.alice, "train", {}, "", [], send=False, project=other)
    Job.objects.filter(pk=elsewhere.pk).update(status="succeeded")
    art = Artifact.objects.create(job=elsewhere, name="model.safetensors", kind="model", file="jobs/x/model.safetensors",
                                  size=1, sha256="0" * 64)
    r = team.client().post("/api/jobs/", {"kind": "sample", "params": {**CHEAP, "model": {"artifact": art.pk}},
                                          "project": team.project.pk}, format="json")
    assert r.status_code == 400 and "model.artifact" in r.json()["params"], r.content


# websockets: the job's stream, and the project's status stream on /ws/jobs/
WS_EXPECTED = {"viewer": None, "member": None, "admin": None, "outsider": 4404, "anonymous": 4401}


@pytest.mark.parametrize("role", ROLES)
def test_websocket_cell(team_of, role, live_server_url):
    team = team_of(role)
    token = None if role == "anonymous" else Token.objects.create(user=team.bob).key
    with ws_connect(live_server_url, f"/ws/jobs/{team.queued.pk}/", token=token) as ws:
        if WS_EXPECTED[role] is None:
            first = json.loads(ws.recv(timeout=30))
            assert first["seq"] == 1 and first["data"] == {"status": "queued"}
        else:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd.code == WS_EXPECTED[role]


@pytest.mark.parametrize("role", ("viewer", "member", "admin", "outsider"))
def test_project_status_stream_cell(team_of, role, live_server_url):
    """/ws/jobs/ carries the status of the jobs of bob's projects: alice's cancel reaches team members;
    an outsider's first message is the status of his own job, sent after hers."""
    team = team_of(role)
    own = create_job(team.bob, "sample", CHEAP, "", [], send=False)  # in his personal project
    with ws_connect(live_server_url, "/ws/jobs/", token=Token.objects.create(user=team.bob).key) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "pong"  # subscribed by now
        cancel_job(team.alice, team.queued.pk)
        cancel_job(team.bob, own.pk)
        first = json.loads(ws.recv(timeout=30))
    assert first["type"] == "status" and first["data"]["status"] == "cancelled"
    assert first["job"] == (own.pk if role == "outsider" else team.queued.pk)
