"""Staff manage users (jobs/api/users.py): add with a one-time password or an invite link, both
shown once; passwords through Django's validators; deactivation stops the user at once."""
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def staff(db):
    boss = User.objects.create_user("boss", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(boss)
    return client


def test_non_staff_get_403_on_the_api_and_404_on_the_page(api, user):
    assert api.get("/api/users/").status_code == 403
    assert api.post("/api/users/", {"username": "eve"}, format="json").status_code == 403
    assert api.patch(f"/api/users/{user.pk}/", {"is_active": False}, format="json").status_code == 403
    page = Client()
    page.force_login(user)
    assert page.get("/users/").status_code == 404
    assert not User.objects.filter(username="eve").exists() and User.objects.get(pk=user.pk).is_active


def test_a_made_password_is_answered_once_and_logs_in(staff):
    r = staff.post("/api/users/", {"username": "carol", "email": "carol@example.org"}, format="json")
    assert r.status_code == 201, r.content
    made = r.json()
    assert made["username"] == "carol" and made["is_active"] and len(made["initial_password"]) >= 16
    assert made.get("invite_url") is None
    listed = staff.get("/api/users/").json()["results"]
    assert {u["username"] for u in listed} == {"boss", "carol"}
    assert made["initial_password"] not in staff.get("/api/users/").content.decode()
    assert Client().login(username="carol", password=made["initial_password"])
    assert not User.objects.get(username="carol").is_staff


def test_a_given_password_goes_through_the_validators(staff):
    for weak in ["short", "carol123", "password123", "20261203417"]:  # short; like the name; common; all digits
        r = staff.post("/api/users/", {"username": "carol", "password": weak}, format="json")
        assert r.status_code == 400 and "password" in r.json(), r.content
    assert not User.objects.filter(username="carol").exists()
    r = staff.post("/api/users/", {"username": "carol", "password": "a-long-passphrase"}, format="json")
    assert r.status_code == 201 and "initial_password" not in {k for k, v in r.json().items() if v}
    assert Client().login(username="carol", password="a-long-passphrase")


@pytest.mark.parametrize("body, field", [
    ({}, "username"),
    ({"username": "boss"}, "username"),
    ({"username": "bad name!"}, "username"),
    ({"username": "dave", "email": "not-an-email"}, "email"),
    ({"username": "dave", "invite": True, "password": "a-long-passphrase"}, "password"),
])
def test_bad_user_requests_answer_400_naming_the_field(staff, body, field):
    r = staff.post("/api/users/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content


def test_an_invite_link_sets_the_password_once(staff):
    r = staff.post("/api/users/", {"username": "dave", "invite": True}, format="json")
    assert r.status_code == 201, r.content
    url = r.json()["invite_url"]
    assert r.json().get("initial_password") is None and not User.objects.get(username="dave").has_usable_password()
    path = urlsplit(url).path
    assert re.fullmatch(r"/accounts/reset/[^/]+/[^/]+/", path)
    browser = Client()
    form = browser.get(path, follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    set_url = form.redirect_chain[-1][0]
    weak = browser.post(set_url, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 200 and b"too short" in weak.content  # the validators, on the form
    done = browser.post(set_url, {"new_password1": "a-long-passphrase", "new_password2": "a-long-passphrase"})
    assert done.status_code == 302
    assert Client().login(username="dave", password="a-long-passphrase")
    again = Client().get(path, follow=True)
    assert b"new_password1" not in again.content and b"has been used or has expired" in again.content


def test_deactivating_stops_the_users_session_and_tokens_and_reactivating_restores_them(staff, user, token):
    session = Client()
    session.force_login(user)
    assert session.get("/").status_code == 200
    r = staff.patch(f"/api/users/{user.pk}/", {"is_active": False}, format="json")
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert session.get("/").status_code == 302
    tokened = APIClient()
    tokened.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert tokened.get("/api/jobs/").status_code == 401
    assert staff.patch(f"/api/users/{user.pk}/", {"is_active": True}, format="json").status_code == 200
    assert tokened.get("/api/jobs/").status_code == 200


def test_staff_cannot_deactivate_themselves_nor_change_names_by_patch(staff):
    boss = User.objects.get(username="boss")
    r = staff.patch(f"/api/users/{boss.pk}/", {"is_active": False}, format="json")
    assert r.status_code == 400 and "is_active" in r.json()
    staff.patch(f"/api/users/{boss.pk}/", {"username": "root", "is_staff": False}, format="json")
    boss.refresh_from_db()
    assert (boss.username, boss.is_staff, boss.is_active) == ("boss", True, True)
    assert staff.put(f"/api/users/{boss.pk}/", {"is_active": True}, format="json").status_code == 405


def test_a_made_password_is_for_the_first_login_only(staff):
    """The admin saw it: until carol chooses her own, her session reaches only the change page."""
    made = staff.post("/api/users/", {"username": "carol"}, format="json").json()
    carol = Client()
    assert carol.post("/accounts/login/", {"username": "carol", "password": made["initial_password"]}).status_code == 302
    page = carol.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/password_change/")
    api = carol.get("/api/jobs/")
    assert api.status_code == 403 and "choose your own" in api.json()["detail"]
    assert carol.post("/api/tokens/", {"name": "x", "scope": "write"}, content_type="application/json").status_code == 403
    form = carol.get("/accounts/password_change/")
    assert form.status_code == 200 and b"Choose your password" in form.content
    weak = carol.post("/accounts/password_change/", {"old_password": made["initial_password"],
                                                     "new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200 and carol.get("/api/jobs/").status_code == 403  # the validators still apply
    done = carol.post("/accounts/password_change/", {"old_password": made["initial_password"],
                                                     "new_password1": "a long phrase of carol's own",
                                                     "new_password2": "a long phrase of carol's own"})
    assert done.status_code == 302 and carol.get("/api/jobs/").status_code == 200
    again = Client()
    assert again.post("/accounts/login/", {"username": "carol", "password": "a long phrase of carol's own"}).status_code == 302
    assert again.get("/api/jobs/").status_code == 200 and again.get("/").status_code == 200


def test_an_invited_user_and_the_admin_themselves_are_not_held(staff):
    from jobs.passwords import PasswordChangeRequired

    staff.post("/api/users/", {"username": "dave", "invite": True}, format="json")
    staff.post("/api/users/", {"username": "erin"}, format="json")
    assert list(PasswordChangeRequired.objects.values_list("user__username", flat=True)) == ["erin"]
    boss = Client()
    assert boss.login(username="boss", password="pw")
    assert boss.get("/api/jobs/").status_code == 200
