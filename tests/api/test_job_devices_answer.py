"""The job answer's scheduler fields (docs/scheduling.md, Devices): `devices` asked for, the workers a
multi-node training reserved, and the device indices each worker gave it; read-only, in one job's answer
and in the list, at no query per row."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Job
from jobs.projects import personal_project

pytestmark = pytest.mark.django_db
QUEUE = "devices-answer"  # no worker serves it: the jobs stay as the test leaves them


def test_the_answer_shows_devices_the_reservation_and_the_assigned_indices(api, user):
    r = api.post("/api/jobs/", {"kind": "train", "params": {"device": "cpu"}, "devices": 2, "queue": QUEUE},
                 format="json")
    assert r.status_code == 201, r.content
    posted = r.json()
    assert (posted["devices"], posted["reserved_workers"], posted["assigned_devices"]) == (2, None, None)

    running = Job.objects.create(
        owner=user, project=personal_project(user), kind="train", queue=QUEUE, params={"nodes": 2}, devices=2,
        status="running", attempts=1, worker="a@h", admitted_at=timezone.now(), reserved_workers=["a@h", "b@h"],
        assigned_devices={"a@h": [2, 3], "b@h": [0, 1]})
    # requeued (admitted_at cleared): the row keeps its last reservation, which holds nothing any more
    requeued = Job.objects.create(
        owner=user, project=personal_project(user), kind="train", queue=QUEUE, params={"nodes": 2},
        status="queued", attempts=1, reserved_workers=["a@h", "b@h"], assigned_devices={"a@h": [0, 1]})

    one = api.get(f"/api/jobs/{running.pk}/").json()
    assert (one["devices"], one["reserved_workers"], one["assigned_devices"]) == (
        2, ["a@h", "b@h"], {"a@h": [2, 3], "b@h": [0, 1]})
    waiting = api.get(f"/api/jobs/{requeued.pk}/").json()
    assert (waiting["devices"], waiting["reserved_workers"], waiting["assigned_devices"]) == (1, None, {"a@h": [0, 1]})

    listed = {j["id"]: j for j in api.get("/api/jobs/").json()["results"]}
    for answer in (posted, one, waiting):
        got = listed[answer["id"]]
        assert {k: got[k] for k in ("devices", "reserved_workers", "assigned_devices")} == {
            k: answer[k] for k in ("devices", "reserved_workers", "assigned_devices")}

    # read-only: a client cannot set them
    r = api.post("/api/jobs/", {"kind": "train", "params": {"device": "cpu"}, "queue": QUEUE,
                                "reserved_workers": ["x@h"], "assigned_devices": {"x@h": [7]}}, format="json")
    assert r.status_code == 201 and (r.json()["reserved_workers"], r.json()["assigned_devices"]) == (None, None)


def test_the_list_reads_them_at_no_query_per_row(api, user):
    def make(n):
        Job.objects.bulk_create([Job(owner=user, project=personal_project(user), kind="train", queue=QUEUE,
                                     status="running", attempts=1, worker="a@h", devices=2, admitted_at=timezone.now(),
                                     reserved_workers=["a@h", "b@h"], assigned_devices={"a@h": [0, 1]})
                                 for _ in range(n)])

    def queries():
        with CaptureQueriesContext(connection) as seen:
            page = api.get("/api/jobs/?status=running").json()["results"]
        assert {j["assigned_devices"]["a@h"][1] for j in page} == {1}
        return len(seen)

    make(2)
    few = queries()
    make(40)
    assert queries() == few
