"""The sweep page in a real browser: the trials table fills in live over /ws/sweeps/<id>/, the best is
marked, and the plots are drawn; pause and resume from the page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.sweeps.models import Sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}


def api_post(page, path, body=None):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(path, data=body, headers={"X-CSRFToken": token, "Referer": page.url})


def test_the_sweep_page_fills_in_live_and_marks_the_best(celery_worker, live_server_url, new_page, user):
    page = new_page(user)
    # two objectives: the table and plots of each, and the Pareto front of the pair
    r = api_post(page, "/api/sweeps/", {
        "name": "page", "kind": "sample", "method": "grid", "parallel": 1,
        "params": {"model": GMM, "n_samples": 64, "exact_subset": 16},
        "space": {"sampler": {"values": ["ddim", "dpm_solver_pp_2m"]}, "nfe": {"values": [4, 8]}},
        "objective": [{"key": "exact_rmse", "goal": "min"}, {"key": "seconds", "goal": "min"}]})
    assert r.status == 201, r.text()
    sweep_id = r.json()["id"]
    page.goto(f"/sweeps/{sweep_id}/")
    # opened while its first trial is queued or running: the rest arrive over the socket
    expect(page.locator("#status .badge")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    expect(page.locator("#trials tbody tr")).to_have_count(4)
    sweep = Sweep.objects.get(pk=sweep_id)
    best = page.locator(f'#trials tr[data-job="{sweep.best["job"]}"]')
    expect(best).to_have_class("best")
    expect(best.locator(".tag")).to_have_text("best")
    expect(page.locator("#best a")).to_have_text(f'#{sweep.best["job"]}')
    for name in ("sampler", "nfe"):
        expect(page.locator(f'figure[data-chart="objective-{name}"]')).to_have_attribute("data-points", "4")
    expect(page.locator('figure[data-chart="parallel"]')).to_have_attribute("data-lines", "4")
    front = page.locator('figure[data-chart="pareto"]').get_attribute("data-front").split(",")
    assert sorted(int(j) for j in front) == sorted(sweep.best["pareto"])  # the page's front is Optuna's
    expect(page.locator("#pause")).to_be_hidden()
    # the table's filter and order: the best first, then only the ddim trials
    page.locator("#trial-order").select_option("best")
    expect(page.locator("#trials tbody tr").first).to_have_attribute("data-job", str(sweep.best["job"]))
    page.locator("#trial-text").fill("sampler=ddim")
    expect(page.locator("#trials tbody tr")).to_have_count(2)
    expect(page.locator("#trial-shown")).to_have_text("2 of 4 shown")
    ddim = set(sweep.trials.filter(params__sampler="ddim").values_list("job_id", flat=True))
    assert {int(j) for j in page.locator("#trials tbody tr").evaluate_all("rs => rs.map(r => r.dataset.job)")} == ddim
    page.locator("#trial-status").select_option("succeeded")
    expect(page.locator("#trials tbody tr")).to_have_count(2)


def test_pause_and_resume_from_the_page(celery_worker, live_server_url, new_page, user):
    page = new_page(user)
    r = api_post(page, "/api/sweeps/", {
        "kind": "train", "method": "grid", "parallel": 1,
        "params": {"data": {"type": "moons"}, "steps": 150, "batch_size": 64, "width": 32, "depth": 1,
                   "log_every": 10, "eval_every": 1000, "checkpoint_every": 1000, "eval_samples": 64, "ref_nfe": 10},
        "space": {"lr": {"values": [0.003, 0.01]}}, "objective": {"key": "final_loss", "goal": "min"}})
    sweep_id = r.json()["id"]
    page.goto(f"/sweeps/{sweep_id}/")
    page.locator("#pause").click()
    expect(page.locator("#status .badge")).to_have_attribute("data-status", "paused")
    expect(page.locator("#resume")).to_be_visible()
    assert Sweep.objects.get(pk=sweep_id).status == "paused"
    page.locator("#resume").click()
    expect(page.locator("#status .badge")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    # the first trial was held if the pause came while it was still queued: then it ran again
    sweep = Sweep.objects.get(pk=sweep_id)
    held = sweep.trials.filter(job__error__startswith="held:").count()
    expect(page.locator("#trials tbody tr")).to_have_count(2 + held)
    assert sorted(t.params["lr"] for t in sweep.trials.filter(job__status="succeeded")) == [0.003, 0.01]
    # each trial's job page links back to its sweep
    page.locator("#trials tbody tr a").first.click()
    expect(page.locator("#sweep-link")).to_contain_text(f"#{sweep_id}")


def test_a_sweep_launched_from_the_new_job_form(celery_worker, live_server_url, new_page, user):
    page = new_page(user)
    page.goto("/jobs/new/")
    page.locator("#kind").select_option("sample")
    page.locator("#sweep-builder > summary").click()
    row = page.locator(".sweep-row").first
    row.locator(".sweep-param").fill("nfe")
    row.locator(".sweep-values").fill("3, 6")
    page.locator("#sweep-objective").fill("exact_rmse")
    # a bad value first: the API's 400 names the swept field, shown beside the builder
    row.locator(".sweep-values").fill("3, 0")
    page.locator("#sweep-launch").click()
    expect(page.locator("#sweep-errors")).to_contain_text("space.nfe")
    row.locator(".sweep-values").fill("3, 6")
    page.locator("#sweep-launch").click()
    page.wait_for_url("**/sweeps/*/")
    expect(page.locator("#status .badge")).to_have_attribute("data-status", "succeeded", timeout=120_000)
    sweep = Sweep.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert sweep.kind == "sample" and sweep.space == {"nfe": {"values": [3, 6]}} and sweep.trials.count() == 2
    expect(page.locator("#trials tbody tr")).to_have_count(2)
