"""frontend/views.py: the dashboard pages, rendered by Django for a logged-in user."""
import pytest
from django.utils import timezone

from jobs.models import Artifact, Job

pytestmark = pytest.mark.django_db


def job(owner, kind="sample", status="succeeded", **kw):
    return Job.objects.create(owner=owner, kind=kind, status=status, params=kw.pop("params", {"nfe": 5}), **kw)


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


def test_pages_need_a_login(client):
    for url in ["/", "/jobs/new/", "/jobs/1/", "/compare/", "/workers/"]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next="), url


def test_login_page_has_labelled_fields(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">' in html and '<label for="id_password">' in html


def test_jobs_list_shows_only_my_jobs_and_filters_by_kind_and_status(alice, user, other_user):
    mine = job(user, name="mine-ok")
    job(user, kind="train", status="failed", name="mine-failed")
    job(other_user, name="theirs")
    html = alice.get("/").content.decode()
    assert "mine-ok" in html and "mine-failed" in html and "theirs" not in html
    assert f'data-job="{mine.id}"' in html
    html = alice.get("/?kind=train&status=failed").content.decode()
    assert "mine-failed" in html and "mine-ok" not in html
    assert "1 job matching the filter" in html


def test_jobs_list_is_paginated_newest_first(alice, user):
    Job.objects.bulk_create([Job(owner=user, kind="sample", name=f"j{i}", params={}) for i in range(30)])
    first = alice.get("/").content.decode()
    assert "Page 1 of 2" in first and ">j29<" in first and ">j4<" not in first
    second = alice.get("/?page=2").content.decode()
    assert ">j4<" in second and ">j29<" not in second


def test_another_users_job_page_and_relaunch_form_are_404(alice, other_user):
    theirs = job(other_user)
    assert alice.get(f"/jobs/{theirs.id}/").status_code == 404
    assert alice.get(f"/jobs/new/?from={theirs.id}").status_code == 404


def test_job_page_links_the_job_that_made_its_input_and_the_jobs_that_used_its_output(alice, user, other_user):
    trainer = job(user, kind="train", name="trainer")
    model = Artifact.objects.create(job=trainer, name="model.safetensors", kind="model", size=10)
    sampler = job(user, name="sampler", started_at=timezone.now())
    sampler.input_artifacts.add(model)
    stranger = job(other_user, name="stranger")  # staff could see it; alice must not
    stranger.input_artifacts.add(model)
    html = alice.get(f"/jobs/{sampler.id}/").content.decode()
    assert f'href="/jobs/{trainer.id}/"' in html and "Input from" in html
    html = alice.get(f"/jobs/{trainer.id}/").content.decode()
    assert f'href="/jobs/{sampler.id}/"' in html and f'href="/jobs/{stranger.id}/"' not in html


def test_relaunch_form_carries_the_old_params(alice, user):
    old = job(user, params={"nfe": 7}, name="old")
    html = alice.get(f"/jobs/new/?from={old.id}").content.decode()
    assert '"params": {"nfe": 7}' in html and '"kind": "sample"' in html


def test_compare_diffs_params_and_refuses_mixed_kinds_and_other_users_jobs(alice, user, other_user):
    a = job(user, params={"nfe": 5, "sampler": "ddim"}, result={"w2": 0.5})
    b = job(user, params={"nfe": 10, "sampler": "ddim"}, result={"w2": 0.25})
    html = alice.get(f"/compare/?ids={a.id}&ids={b.id}").content.decode()
    assert 'class="differs"><th scope="row">nfe' in html
    assert '<tr class=""><th scope="row">sampler' in html
    assert "0.25" in html
    t = job(user, kind="train")
    html = alice.get(f"/compare/?ids={a.id},{t.id}").content.decode()
    assert "Choose jobs of one kind" in html
    theirs = job(other_user)
    assert alice.get(f"/compare/?ids={a.id},{theirs.id}").status_code == 404


def test_uplot_is_served_from_node_modules(client):
    r = client.get("/vendor/uplot/uPlot.esm.js")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/javascript")
    assert b"export" in b"".join(r.streaming_content)
    assert client.get("/vendor/uplot/package.json").status_code == 404


def test_jobs_list_query_count_does_not_grow_with_thousands_of_jobs(alice, user, django_assert_max_num_queries):
    Job.objects.bulk_create([Job(owner=user, kind=("sample", "train")[i % 2], params={}) for i in range(3000)])
    # session + user, projects, count, one page of rows, distinct kinds, and the scheduler's places of the
    # page's waiting jobs (one statement, jobs/scheduler.py): independent of how many jobs exist
    with django_assert_max_num_queries(7):
        r = alice.get("/?kind=train&page=7")
    assert r.status_code == 200 and "Page 7 of 60" in r.content.decode()
