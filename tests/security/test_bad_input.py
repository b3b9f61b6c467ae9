"""Input that PostgreSQL or int() refuses: NUL characters and non-ASCII digits are a 400 naming the
field (or, on a page, a value ignored like any other non-number), never a 500."""
import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

NUL_ANSWER = ["contains a NUL character"]


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("url, field", [
    ("/api/jobs/?kind=%00", "kind"),
    ("/api/jobs/?status=queued%00", "status"),
    ("/api/artifacts/?kind=model%00", "kind"),
    ("/api/jobs/?page=1&k%00=1", "k\x00"),
    ("/?kind=%00", "kind"),
    ("/compare/?ids=1,2&kind=%00", "kind"),
    ("/jobs/new/?kind=sample%00", "kind"),
])
def test_a_nul_in_a_query_is_a_400_naming_the_field(alice, url, field):
    r = alice.get(url)
    assert r.status_code == 400, r.content
    assert r.json() == {field: NUL_ANSWER}


@pytest.mark.parametrize("params, field", [
    ({"data": {"type": "moons\x00"}}, "data.type"),
    ({"data": {"type": "dna", "motifs": ["TGACTC", "GAT\x00AAG"]}}, "data.motifs.1"),
    ({"optimizer\x00": "adamw"}, "optimizer\x00"),
])
def test_a_nul_in_train_params_is_a_400_naming_the_field_path(api, params, field):
    r = api.post("/api/jobs/", {"kind": "train", "params": params}, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {"params": {field: NUL_ANSWER}}
    assert Job.objects.count() == 0


def test_a_nul_in_a_list_of_strings_that_passes_the_schema_is_a_400(api):
    # quantize's `skip` takes any string: before, the NUL reached jsonb and the answer was a 500
    r = api.post("/api/jobs/", {"kind": "quantize", "params": {"skip": ["head\x00"]}}, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {"params": {"skip.0": NUL_ANSWER}}
    assert Job.objects.count() == 0


def test_a_nul_in_a_job_name_is_a_400_naming_the_field(api):
    r = api.post("/api/jobs/", {"kind": "sample", "name": "run\x00one"}, format="json")
    assert r.status_code == 400, r.content
    assert list(r.json()) == ["name"]


@pytest.mark.parametrize("value", ["²", "٣", "1_0", "+1", " 1", "-1"])
def test_event_cursors_are_ascii_digits_only(api, make_job, value):
    job = make_job()
    r = api.get(f"/api/jobs/{job.id}/events/", {"after": value})
    assert r.status_code == 400, r.content
    assert r.json() == {"after": ["must be an integer (digits 0-9)"]}


@pytest.mark.parametrize("value", [str(2**63), "1" * 5000])
def test_an_event_cursor_past_bigint_is_past_every_event(api, make_job, value):
    # int() of 5000 digits raises ValueError: before, the answer was a 400 saying it is no integer
    job = make_job()
    r = api.get(f"/api/jobs/{job.id}/events/", {"after": value})
    assert r.status_code == 200, r.content
    assert r.json() == []
    assert api.get(f"/api/jobs/{job.id}/events/", {"after": "0"}).json()[0]["seq"] == 1


@pytest.mark.parametrize("value", ["²", "٣", str(2**64)])
def test_new_job_form_ignores_a_from_that_is_no_ascii_id(alice, make_job, value):
    make_job(name="a job to copy")
    r = alice.get("/jobs/new/", {"from": value})
    assert r.status_code == 200
    assert r.context["source"] is None


def test_new_job_form_still_copies_a_job_given_by_id(alice, make_job):
    job = make_job(name="a job to copy")
    r = alice.get("/jobs/new/", {"from": str(job.id)})
    assert r.status_code == 200 and r.context["source"] == job


@pytest.mark.parametrize("value", ["²", "٣"])
def test_compare_says_an_odd_digit_is_not_a_job_id(alice, make_job, value):
    job = make_job()
    r = alice.get(f"/compare/?ids={job.id},{value}")
    assert r.status_code == 200
    assert r.context["problem"] == f"Not a job id: {value!r}."
