"""jobs/login.py: password guessing is braked per account and address; CSRF guards the browser's forms."""
import pytest
from django.test import Client

from jobs import login, workers

pytestmark = pytest.mark.django_db
URL = "/accounts/login/"


@pytest.fixture(autouse=True)
def fresh_counters(user, login_template):
    for name in ("alice", "bob"):
        for addr in ("127.0.0.1", "10.0.0.9"):
            workers.client().delete(*[k for k, _ in login._keys(name, addr)])


def attempt(password, username="alice", addr="127.0.0.1"):
    return Client(REMOTE_ADDR=addr).post(URL, {"username": username, "password": password})


def test_a_right_password_logs_in(settings):
    r = attempt("pw")
    assert r.status_code == 302 and r.url == settings.LOGIN_REDIRECT_URL


def test_after_the_limit_even_the_right_password_is_refused_without_being_checked(settings):
    limit = settings.LAB_LOGIN_MAX_FAILURES
    for _ in range(limit):
        r = attempt("guess")
        assert r.status_code == 200 and "correct username and password" in r.content.decode()
    r = attempt("pw")
    assert r.status_code == 429 and "Too many failed logins" in r.content.decode()
    assert "_auth_user_id" not in r.client.session
    # another address may still log in to the account (up to the per-account limit), and other accounts too
    assert attempt("pw", addr="10.0.0.9").status_code == 302
    assert attempt("pw", username="bob").status_code == 200  # bob does not exist: an ordinary failure


def test_guessing_spread_over_many_addresses_hits_the_per_account_limit(settings):
    limit = 4 * settings.LAB_LOGIN_MAX_FAILURES
    for i in range(limit):
        assert attempt("guess", addr=f"10.1.{i}.1").status_code == 200
    assert attempt("pw", addr="10.9.9.9").status_code == 429


def test_a_success_clears_the_counter_of_its_address(settings):
    for _ in range(settings.LAB_LOGIN_MAX_FAILURES - 1):
        attempt("guess")
    assert attempt("pw").status_code == 302
    assert attempt("guess").status_code == 200  # counting starts again


def test_the_login_form_needs_its_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(URL, {"username": "alice", "password": "pw"}).status_code == 403
    page = browser.get(URL)
    token = page.cookies["csrftoken"].value
    ok = browser.post(URL, {"username": "alice", "password": "pw", "csrfmiddlewaretoken": token})
    assert ok.status_code == 302


def test_a_browser_session_cannot_post_to_the_api_without_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    body = {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}
    r = browser.post("/api/jobs/", body, content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    browser.get("/accounts/login/")  # sets the csrftoken cookie, as every page with a form does
    token = browser.cookies["csrftoken"].value
    for path in ("/api/jobs/1/cancel/", "/api/jobs/1/retry/"):
        assert browser.post(path, HTTP_X_CSRFTOKEN="").status_code == 403
    r = browser.post("/api/jobs/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201
