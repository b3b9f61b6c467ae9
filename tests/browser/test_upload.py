"""The Upload page in a real browser: a file goes up in chunks (tus) with a progress bar and becomes an
artifact; a page closed mid-upload resumes, when the same file is chosen again, from the offset the server
holds, not from the start."""
from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from jobs.models import Artifact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(45_000)))
    return path  # ~2.5 MB: three chunks of the test settings' LAB_UPLOAD_CHUNK_BYTES (1 MiB)


def test_an_upload_closed_midway_resumes_from_the_servers_offset(new_page, user, corpus):
    page = new_page(user)
    page.goto("/upload/")
    chunk = page.evaluate("JSON.parse(document.getElementById('boot').textContent).chunk_bytes")
    assert chunk == 1024**2 and 3 * chunk > corpus.stat().st_size > 2 * chunk  # the server's chunk size

    refused = []
    # the connection drops after the first chunk: every later chunk fails, and the page is then closed
    page.route("**/api/uploads/**", lambda route: (refused.append(1), route.abort())
               if route.request.method == "PATCH" and route.request.headers.get("upload-offset") != "0"
               else route.continue_())
    page.get_by_label("Kind").select_option("dataset")
    page.get_by_label("Format").select_option("text")
    page.get_by_label("File").set_input_files(corpus)
    with page.expect_response(lambda r: r.request.method == "PATCH" and r.status == 204):
        page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-bar")).not_to_have_attribute("value", "0")
    if not refused:
        page.wait_for_event("requestfailed")
    page.goto("/upload/")  # closed mid-upload (the refusals go on until the page is gone)
    page.unroute("**/api/uploads/**")

    offsets = []
    page.on("request", lambda r: r.method == "PATCH" and offsets.append(int(r.headers["upload-offset"])))
    page.get_by_label("Kind").select_option("dataset")
    page.get_by_label("Format").select_option("text")
    page.get_by_label("File").set_input_files(corpus)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("stored; ready to use.", timeout=30_000)
    assert offsets and offsets[0] == chunk, offsets  # resumed where the server stood, not from 0
    expect(page.locator("#upload-bar")).to_have_attribute("value", "1")
    art = Artifact.objects.get(name="corpus.txt")
    assert art.sha256 == hashlib.sha256(corpus.read_bytes()).hexdigest() and art.job.project.personal_of == user
    page.get_by_role("link", name=f"validation job #{art.job_id}").click()  # an `upload` job's page shows too
    expect(page.locator("#status .badge")).to_have_text("succeeded")
    page.goto("/")  # and in the jobs list, as the project's other jobs
    expect(page.locator(f'tr[data-job="{art.job_id}"]')).to_contain_text("upload")


def test_the_new_job_form_offers_datasets_to_data_fields_and_models_to_model_fields(new_page, user):
    from jobs.models import Job

    lm = Job.objects.create(owner=user, kind="upload", status="succeeded", name="upload lm.zip", params={})
    model = Artifact.objects.create(job=lm, name="lm.zip", kind="model", size=1)
    Artifact.objects.create(job=lm, name="model.safetensors", kind="weights", size=1)
    text = Job.objects.create(owner=user, kind="upload", status="succeeded", name="upload corpus.txt", params={})
    corpus = Artifact.objects.create(job=text, name="corpus.txt", kind="dataset", size=1)
    page = new_page(user)
    page.goto("/jobs/new/?kind=quantize")
    page.get_by_label("Model type").select_option(label="one of my models")
    models = page.get_by_label("Model artifact")
    expect(models.locator("option", has_text="lm.zip")).to_have_attribute("value", str(model.id))
    expect(models.locator("option", has_text="corpus.txt")).to_have_count(0)
    expect(models.locator("option", has_text="model.safetensors")).to_have_count(0)  # part of a folder, no model
    calibration = page.get_by_label("Calibration", exact=True)
    expect(calibration.locator("option", has_text="corpus.txt")).to_have_attribute("value", str(corpus.id))
    expect(calibration.locator("option", has_text="lm.zip")).to_have_count(0)
