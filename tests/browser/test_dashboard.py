"""The dashboard in a real browser against a live server and a real Celery worker."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from jobs.models import Artifact, Job

# the live server and the worker are separate processes: rows must be committed to be seen
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


# Records every value the job page's progress bar takes, from before the page's own scripts run,
# and marks the document so that a reload would be noticed.
RECORD_PROGRESS = """
window.__progress = [];
window.__loadedOnce = true;
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.getElementById("progress");
  if (!bar) return;
  window.__progress.push(bar.value);
  new MutationObserver(() => window.__progress.push(bar.value))
    .observe(bar, { attributes: true, attributeFilter: ["value"] });
});
"""
JOB_URL = re.compile(r"/jobs/(\d+)/$")
# 2000 chunks x ~1000 solver steps: minutes on a CPU worker, so it is still running when cancelled.
LONG_JOB = {"kind": "sample", "params": {"nfe": 1000, "n_samples": 200000, "batch_size": 100, "device": "cpu"}}


def api_post(page, path, body):
    """POST JSON with the page's session and CSRF cookie, as the dashboard's own JS does."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(path, data=body, headers={"X-CSRFToken": token, "Referer": page.url})


def kind_schema(page, kind):
    kinds = page.request.get("/api/job-kinds/").json()
    kinds = kinds.get("results", kinds) if isinstance(kinds, dict) else kinds
    return next(k for k in kinds if k["name"] == kind)["params_schema"]


def job_count(page):
    return page.request.get("/api/jobs/").json()["count"]


@pytest.mark.worker
def test_launch_sample_watch_it_live_and_download(new_page, celery_worker, user, artifacts_dir):
    page = new_page(user)
    page.add_init_script(RECORD_PROGRESS)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New job").click()
    page.get_by_label("Kind").select_option("sample")
    nfe = page.get_by_label("NFE", exact=True)
    expect(nfe).to_have_value(str(kind_schema(page, "sample")["properties"]["nfe"]["default"]))
    nfe.fill("12")
    # enough samples in small chunks that the run lasts well beyond one event flush (50 ms), so
    # the bar is seen between 0 and 100% (a default-sized job can finish within a single flush)
    page.locator("#p-n_samples").fill("200000")
    page.locator("#p-batch_size").fill("2000")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(JOB_URL)
    job_id = int(JOB_URL.search(page.url).group(1))

    expect(page.locator("#status .badge")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#progress-text")).to_have_text("100%")
    seen = page.evaluate("window.__progress")
    assert seen[-1] == 1 and any(0 < v < 1 for v in seen), seen
    assert page.evaluate("window.__loadedOnce") is True  # the same document all along: no reload

    # its one metric, reported once, is a row of the result table (the charts are for curves)
    expect(page.get_by_role("row", name=re.compile(r"^exact_rmse\b"))).to_have_count(1)
    expect(page.locator('.chart[data-metric="exact_rmse"]')).to_have_count(0)
    scatter = page.locator(".preview-scatter canvas").first
    expect(scatter).to_be_visible()
    expect(page.locator("#params")).to_contain_text("12")
    expect(page.locator("#params")).to_contain_text("200000")

    page.screenshot(path=artifacts_dir / "job_page.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download samples.npy").click()
    samples = np.load(io.BytesIO(open(download.value.path(), "rb").read()))
    job = page.request.get(f"/api/jobs/{job_id}/").json()
    assert job["params"]["nfe"] == 12
    assert samples.shape == (job["params"]["n_samples"], 2)
    assert np.isfinite(samples).all()


def test_bad_value_shows_the_api_error_inline_and_creates_nothing(new_page, user):
    page = new_page(user)
    page.goto("/jobs/new/")
    page.get_by_label("Kind").select_option("sample")
    too_many = kind_schema(page, "sample")["properties"]["nfe"]["maximum"] + 1
    before = job_count(page)
    nfe = page.get_by_label("NFE", exact=True)
    nfe.fill(str(too_many))
    with page.expect_response(lambda r: r.url.endswith("/api/jobs/") and r.request.method == "POST") as answer:
        nfe.press("Enter")  # the form works from the keyboard
    assert answer.value.status == 400
    error = page.locator("#error-p-nfe")
    expect(error).to_be_visible()
    expect(error).to_contain_text(str(too_many - 1))  # the API names the bound that was broken
    expect(nfe).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/jobs/new/$"))
    assert job_count(page) == before


def test_a_job_no_worker_holds_shows_the_admission_estimate_and_creates_nothing(new_page, user):
    page = new_page(user)
    page.goto("/jobs/new/")
    page.get_by_label("Kind").select_option("sample")
    before = job_count(page)
    page.locator("#p-n_samples").fill("200000")
    page.locator("#p-batch_size").fill("1")
    with page.expect_response(lambda r: r.url.endswith("/api/jobs/") and r.request.method == "POST") as answer:
        page.locator("#p-batch_size").press("Enter")
    assert answer.value.status == 400
    summary = page.locator("#form-errors")
    expect(summary).to_contain_text("writes about 400003 files (samples and plot + 2 x (n_samples 200000 / batch_size "
                                    "1 = 200000 checkpoint chunks) + 1), the limit is 10000; lower n_samples or "
                                    "batch_size")
    expect(summary).not_to_contain_text("estimate")  # the numbers for programs stay out of the page
    assert job_count(page) == before


@pytest.mark.worker
def test_cancel_a_running_job_from_its_page(new_page, celery_worker, user):
    page = new_page(user)
    made = api_post(page, "/api/jobs/", LONG_JOB)
    assert made.status == 201, made.text()
    job_id = made.json()["id"]
    jobs_list = page.context.new_page()
    jobs_list.goto("/")
    row_badge = jobs_list.locator(f'tr[data-job="{job_id}"] .badge')
    page.goto(f"/jobs/{job_id}/")
    badge = page.locator("#status .badge")
    expect(badge).to_have_text("running", timeout=60_000)
    expect(row_badge).to_have_text("running")  # the list follows /ws/jobs/ without a reload
    page.get_by_role("button", name="Cancel").click()
    expect(badge).to_have_text("cancelled", timeout=60_000)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(row_badge).to_have_text("cancelled")
    assert page.request.get(f"/api/jobs/{job_id}/").json()["status"] == "cancelled"
    # Retry makes a new job with the same params and opens it; cancel that one too
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(rf"/jobs/(?!{job_id}/)\d+/$"))
    retried = page.request.get(f"/api/jobs/{JOB_URL.search(page.url).group(1)}/").json()
    assert retried["params"] == made.json()["params"]
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status .badge")).to_have_text("cancelled", timeout=60_000)


@pytest.mark.worker
def test_job_page_resumes_after_a_dropped_socket_with_nothing_missing_or_doubled(new_page, celery_worker, user):
    page = new_page(user)
    sockets = []

    def through(ws):  # the page's websocket, passed through to the real server
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws/jobs/\d+/"), through)
    made = api_post(page, "/api/jobs/", LONG_JOB)
    job_id = made.json()["id"]
    page.goto(f"/jobs/{job_id}/")
    expect(page.locator("#eta")).to_contain_text("left", timeout=60_000)  # running, with an ETA
    with page.expect_websocket() as reconnected:
        sockets[0].close(code=4000, reason="network drop")  # as a sleeping laptop would see it
    after = int(re.search(r"after=(\d+)", reconnected.value.url).group(1))
    assert after > 0, reconnected.value.url  # resumed from the last seq seen, not from the start
    expect(page.locator("#live-state")).to_have_text("live")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status .badge")).to_have_text("cancelled", timeout=60_000)
    events = page.request.get(f"/api/jobs/{job_id}/events/?after=0").json()
    events = events.get("results", events) if isinstance(events, dict) else events
    logged = [e["data"]["text"] for e in events if e["type"] == "log"]
    expect(page.locator("#log")).to_have_text("\n".join(logged))


def test_model_field_offers_my_models_only(new_page, user, other_user):
    mine = Job.objects.create(owner=user, kind="train", status="succeeded", name="my-flow", params={})
    model = Artifact.objects.create(job=mine, name="model.safetensors", kind="model", size=1)
    theirs = Job.objects.create(owner=other_user, kind="train", status="succeeded", name="their-flow", params={})
    Artifact.objects.create(job=theirs, name="model.safetensors", kind="model", size=1)
    page = new_page(user)
    page.goto("/jobs/new/?kind=sample")
    page.get_by_label("Model type").select_option(label="one of my models")
    choice = page.get_by_label("Model artifact")
    expect(choice.locator("option", has_text="my-flow")).to_have_attribute("value", str(model.id))
    expect(choice.locator("option", has_text="their-flow")).to_have_count(0)


def test_other_users_job_page_is_404(new_page, user, other_user):
    owner = new_page(user)
    made = api_post(owner, "/api/jobs/", {"kind": "sample", "params": {}})
    assert made.status == 201, made.text()
    stranger = new_page(other_user)
    response = stranger.goto(f"/jobs/{made.json()['id']}/")
    assert response.status == 404
    expect(stranger.get_by_text(made.json().get("name") or "sample", exact=True)).to_have_count(0)


def test_compare_overlays_the_curves_of_the_chosen_jobs(new_page, user):
    from django.utils import timezone

    from jobs.models import JobEvent

    jobs = []
    for nfe in (5, 10):
        job = Job.objects.create(owner=user, kind="sample", status="succeeded", params={"nfe": nfe},
                                 result={"exact_rmse": 1.0 / nfe})
        JobEvent.objects.bulk_create([JobEvent(job=job, seq=i + 1, type="metric", ts=timezone.now(),
                                               data={"name": "loss", "value": 1.0 / (i + 1), "step": i})
                                      for i in range(nfe)] + [
            JobEvent(job=job, seq=nfe + 1, type="metric", ts=timezone.now(),
                     data={"name": "exact_rmse", "value": 1.0 / nfe, "step": nfe})])
        jobs.append(job)
    page = new_page(user)
    page.goto("/")
    for job in jobs:
        page.get_by_label(f"Compare job {job.id}").check()
    page.get_by_role("button", name=re.compile("Compare selected")).click()
    chart = page.locator('.chart[data-metric="loss"]')
    expect(chart).to_have_attribute("data-points", "10")  # the union of both jobs' steps
    expect(chart.locator("canvas")).to_be_visible()
    # one point per job (the error at its NFE): joined across jobs into an error-vs-NFE curve
    error = page.locator('.chart[data-metric="exact_rmse"]')
    expect(error).to_have_attribute("data-points", "2")
    expect(error.locator(".u-legend")).to_contain_text("across jobs")
    expect(page.locator("tr.differs th", has_text="nfe")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("exact_rmse"))).to_contain_text("0.2")
    expect(page.locator("#tradeoff")).to_be_hidden()  # one numeric result: nothing to plot it against


def test_compare_plots_a_sweeps_trade_off_one_point_per_job(new_page, user):
    jobs = [Job.objects.create(owner=user, kind="finetune", status="succeeded", name=f"a={a}",
                               params={"method": "drakes", "alpha": a},
                               result={"true_activity_median": t, "kmer_corr": k, "method": "drakes"})
            for a, t, k in [(0.0, 2.0, 0.3), (0.01, 1.9, 0.8), (0.1, 0.5, 0.9)]]
    jobs.append(Job.objects.create(owner=user, kind="finetune", status="failed", params={"alpha": 1.0}, result={}))
    page = new_page(user)
    page.goto("/compare/?" + "&".join(f"ids={j.id}" for j in jobs))
    chart = page.locator("#tradeoff-chart .chart")
    # the DRAKES pair is the default; the failed job has no results, so no point
    expect(page.locator("#tradeoff-x")).to_have_value("kmer_corr")
    expect(page.locator("#tradeoff-y")).to_have_value("true_activity_median")
    expect(chart).to_have_attribute("data-points", "3")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart).to_contain_text(f"#{jobs[0].id} (0.3, 2) · #{jobs[1].id} (0.8, 1.9)")
    page.locator("#tradeoff-x").select_option("true_activity_median")
    expect(chart.locator("figcaption")).to_have_text("true_activity_median against true_activity_median")


@pytest.mark.worker
def test_workers_page_shows_the_live_worker_and_its_queues(new_page, celery_worker, user):
    page = new_page(user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workers").click()
    row = page.locator("#workers-body tr", has_text="test-worker@")
    expect(row.locator("td").first).to_have_text(re.compile(r"^(gpu, cpu|cpu, gpu)$"))
    expect(row.locator("td").last).not_to_be_empty()  # device names, or "CPU"


def test_a_job_no_worker_listens_for_says_why_it_waits(new_page, user):
    waiting = Job.objects.create(owner=user, kind="sample", params={}, queue="tpu")
    page = new_page(user)
    page.goto(f"/jobs/{waiting.id}/")
    expect(page.locator("#waiting")).to_have_text("waiting: no worker on queue tpu")
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()


def test_the_job_page_shows_the_devices_each_node_got(new_page, user):
    from django.utils import timezone

    job = Job.objects.create(owner=user, kind="train", params={"nodes": 2}, queue="tpu", devices=2, status="running",
                             attempts=1, worker="a@h", admitted_at=timezone.now(), reserved_workers=["a@h", "b@h"],
                             assigned_devices={"a@h": [2, 3], "b@h": [0, 1]})
    page = new_page(user)
    page.goto(f"/jobs/{job.id}/")
    expect(page.locator("#devices")).to_have_text("2 per node: 2, 3 on a@h; 0, 1 on b@h")
    one = Job.objects.create(owner=user, kind="sample", params={}, queue="tpu", devices=2)  # waiting: none yet
    page.goto(f"/jobs/{one.id}/")
    expect(page.locator("#waiting")).to_have_text("waiting: no worker on queue tpu")  # the answer was rendered
    expect(page.locator("#devices")).to_have_text("2")


def test_pages_fit_a_narrow_screen(new_page, user):
    done = Job.objects.create(owner=user, kind="sample", status="succeeded", progress=1.0,
                              params={"nfe": 5, "model": {"type": "gmm", "means": [[0.0, 1.0]] * 8}},
                              result={"exact_rmse": 0.01, "grid_times": [1.0 - i / 20 for i in range(21)]})
    page = new_page(user, viewport={"width": 390, "height": 844})
    for url in ["/", "/jobs/new/?kind=sample", f"/jobs/{done.id}/", "/workers/", "/queue/", "/compare/"]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url


def shown(locator):
    """The field is on screen or under a closed "Advanced" fold: neither it nor a box around it is hidden."""
    return locator.evaluate("el => !el.closest('[hidden]')")


@pytest.mark.worker
def test_train_form_shows_the_fields_of_the_objective_and_a_preset_runs(new_page, celery_worker, user):
    from ml.data.toys import GMM_PRESET

    page = new_page(user)
    page.goto("/jobs/new/?kind=train")
    objective = page.get_by_label("Objective", exact=True)
    expect(objective).to_have_value("rectified_flow")
    slimflow = [page.locator(f'[data-field="{name}"]') for name in ("slimflow_anneal", "slimflow_guidance")]
    for field in slimflow:
        expect(field).to_be_attached()
        assert not shown(field)  # a plain flow has no SlimFlow knobs
    objective.select_option("slimflow")
    for field in slimflow:
        assert shown(field)
    page.get_by_label("Data type").select_option("gmm")
    expect(page.locator("#p-data-means")).not_to_have_value("")  # a working mixture, not an empty box
    page.get_by_label("Preset").select_option("quick demo")
    expect(objective).to_have_value("rectified_flow")
    assert not any(shown(field) for field in slimflow)
    expect(page.get_by_label("Data type")).to_have_value("gmm")
    expect(page.locator("#p-data-means")).to_have_value(
        re.compile(r"^\[\[2(\.0)?,0(\.0)?\],\[1(\.0)?,1\.732\]"))  # the mixture filled in, not an empty box
    with page.expect_response(lambda r: r.url.endswith("/api/jobs/") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Launch").click()
    assert answer.value.status == 201, answer.value.text()
    page.wait_for_url(JOB_URL)
    job = page.request.get(f"/api/jobs/{JOB_URL.search(page.url).group(1)}/").json()
    assert job["params"]["objective"] == "rectified_flow" and job["params"]["steps"] == 200
    assert job["params"]["data"]["means"] == GMM_PRESET["means"]
    assert not {"slimflow_anneal", "slimflow_guidance", "split"} & set(job["params"])  # hidden: not sent
    expect(page.locator("#status .badge")).to_have_text("succeeded", timeout=180_000)

    # a metric reported at one step only (a last evaluation) is a row of the result table, not a chart
    events = page.request.get(f"/api/jobs/{job['id']}/events/?after=0").json()
    events = events.get("results", events) if isinstance(events, dict) else events
    steps = {}
    for e in events:
        if e["type"] == "metric":
            steps.setdefault(e["data"]["name"], set()).add(e["data"]["step"])
    once = sorted(n for n, s in steps.items() if len(s) == 1)
    curves = sorted(n for n, s in steps.items() if len(s) > 1)
    assert once and curves, steps
    expect(page.locator(f'.chart[data-metric="{curves[0]}"] canvas')).to_be_visible()
    for name in once:
        expect(page.locator("#result tr", has=page.locator("th", has_text=re.compile(rf"^{re.escape(name)}$")))
               ).to_have_count(1)
        expect(page.locator(f'.chart[data-metric="{name}"]')).to_have_count(0)


def test_job_page_puts_a_metric_reported_once_in_the_result_table(new_page, user):
    from django.utils import timezone

    from jobs.models import JobEvent

    job = Job.objects.create(owner=user, kind="train", status="succeeded", progress=1.0, params={},
                             result={"final_loss": 0.25})
    JobEvent.objects.bulk_create([JobEvent(job=job, seq=i + 1, type="metric", ts=timezone.now(),
                                           data={"name": "loss", "value": 1.0 / (i + 1), "step": i})
                                  for i in range(5)] + [
        JobEvent(job=job, seq=6, type="metric", ts=timezone.now(), data={"name": "fd", "value": 1.25, "step": 4}),
        JobEvent(job=job, seq=7, type="metric", ts=timezone.now(),
                 data={"name": "final_loss", "value": 0.3, "step": 4})])
    page = new_page(user)
    page.goto(f"/jobs/{job.id}/")
    expect(page.locator('.chart[data-metric="loss"]')).to_have_attribute("data-points", "5")
    expect(page.locator('.chart[data-metric="loss"] canvas')).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^fd\b"))).to_contain_text("1.25")
    expect(page.locator('.chart[data-metric="fd"]')).to_have_count(0)
    # a single value the result already holds is not repeated: the result's own wins
    expect(page.locator("#result tr", has_text="final_loss")).to_have_count(1)
    expect(page.locator("#result tr", has_text="final_loss")).to_contain_text("0.25")
    expect(page.locator(".chart")).to_have_count(1)


def test_quantize_form_shows_each_methods_own_fields_and_sends_only_them(new_page, user):
    page = new_page(user)
    page.goto("/jobs/new/?kind=quantize")
    method = page.get_by_label("Method", exact=True)
    expect(method).to_have_value("gptq")
    nupes, act_order = page.locator('[data-field="nupes_steps"]'), page.locator('[data-field="act_order"]')
    decoupleq = page.locator('[data-field="decoupleq"]')
    assert shown(act_order) and not shown(nupes) and not shown(decoupleq)
    method.select_option("nupes")
    assert shown(nupes) and not shown(act_order) and not shown(decoupleq)
    method.select_option("decoupleq")
    assert shown(decoupleq) and shown(act_order) and not shown(nupes)
    expect(page.locator("details.advanced > summary").first).to_have_text("Advanced")
    assert page.locator('details.advanced [data-field="include_conv1d"]').count() == 1
    # bad values, one of them under the fold: the 400 names only them (nothing hidden was sent to be
    # refused), each message shows beside its field, and the fold opens to show its own
    page.locator("#p-decoupleq-max_iter").fill("99")
    fold = page.locator("details.advanced", has=page.locator("#p-n_samples"))
    fold.locator("summary").click()
    page.locator("#p-n_samples").fill("5")
    fold.locator("summary").click()
    expect(page.locator("#p-n_samples")).to_be_hidden()
    with page.expect_response(lambda r: r.url.endswith("/api/jobs/") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Launch").click()
    assert answer.value.status == 400
    body = answer.value.json()
    assert set(body["params"]) == {"decoupleq.max_iter", "n_samples"}, body
    expect(page.locator("#error-p-decoupleq-max_iter")).to_contain_text("20")
    expect(page.locator("#error-p-n_samples")).to_be_visible()
    expect(page.locator("#error-p-n_samples")).to_contain_text("16")
