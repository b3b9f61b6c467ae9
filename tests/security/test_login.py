"""jobs/login.py: password guessing is braked per account and address, on the lab's login and
the admin's; CSRF guards the browser's forms."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jobs import workers

pytestmark = pytest.mark.django_db
URL = "/accounts/login/"


@pytest.fixture(autouse=True)
def fresh_counters(user, login_template, settings):
    counters = list(workers.client().scan_iter(f"{settings.LAB_KEY_PREFIX}login-failures:*"))
    if counters:
        workers.client().delete(*counters)


def attempt(password, username="alice", addr="127.0.0.1", url=URL, client=None):
    return (client or Client(REMOTE_ADDR=addr)).post(url, {"username": username, "password": password},
                                                     REMOTE_ADDR=addr)


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


def test_an_attacker_locking_their_addresses_out_leaves_the_real_user_free(settings):
    limit = settings.LAB_LOGIN_MAX_FAILURES
    for _ in range(limit):
        assert attempt("guess", addr="10.6.6.6").status_code == 200
    assert attempt("pw", addr="10.6.6.6").status_code == 429
    # guessing spread over many addresses, past 4x the per-address limit, locks no address the user is at
    for i in range(4 * limit + 1):
        assert attempt("guess", addr=f"10.1.{i}.1").status_code == 200
    r = attempt("pw", addr="127.0.0.1")
    assert r.status_code == 302 and r.client.session["_auth_user_id"] == str(get_user_model().objects.get(
        username="alice").pk)


def test_one_address_spraying_many_usernames_hits_the_per_address_limit(settings):
    for i in range(4 * settings.LAB_LOGIN_MAX_FAILURES):  # LAB_LOGIN_MAX_FAILURES_PER_ADDRESS's default
        assert attempt("guess", username=f"user{i}", addr="10.6.6.6").status_code == 200
    r = attempt("pw", addr="10.6.6.6")
    assert r.status_code == 429 and "_auth_user_id" not in r.client.session
    assert attempt("pw", addr="127.0.0.1").status_code == 302  # the account itself is not locked


def test_a_logged_in_user_guessing_another_account_is_counted(settings, other_user):
    bob = Client(REMOTE_ADDR="127.0.0.1")
    bob.force_login(other_user)
    for _ in range(settings.LAB_LOGIN_MAX_FAILURES):
        assert attempt("guess", client=bob).status_code == 200
    assert attempt("pw", client=bob).status_code == 429


def test_the_admin_login_has_the_same_brake_and_counters(settings):
    get_user_model().objects.create_user("root", password="rootpw", is_staff=True, is_superuser=True)
    limit = settings.LAB_LOGIN_MAX_FAILURES
    for _ in range(limit - 1):
        assert attempt("guess", username="root", url="/admin/login/").status_code == 200
    assert attempt("guess", username="root").status_code == 200  # the lab's login counts for the admin's
    r = attempt("rootpw", username="root", url="/admin/login/")
    assert r.status_code == 429 and "Too many failed logins" in r.content.decode()
    assert "_auth_user_id" not in r.client.session
    ok = attempt("rootpw", username="root", url="/admin/login/", addr="10.0.0.9")
    assert ok.status_code == 302 and "_auth_user_id" in ok.client.session


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
