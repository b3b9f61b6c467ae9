"""API tokens (jobs/tokens.py, jobs/auth.py): scopes, revocation, expiry, last use, one header for
knox keys and DRF's drf_create_token keys, and the key shown once."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobs.auth import TokenScope
from jobs.models import Job
from jobs.tokens import LAST_USED_RESOLUTION, ApiToken

pytestmark = pytest.mark.django_db

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def make_token(api, scope="write", **extra):
    r = api.post("/api/tokens/", {"name": f"{scope}-script", "scope": scope, **extra}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def with_key(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def unsafe_endpoints():
    """(method, path) of every unsafe operation the URL conf routes under /api/, ids filled in."""
    found = []
    for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints():
        if method in UNSAFE and path.startswith("/api/"):
            # a tus upload is named by its guid (jobs/chunked.py), everything else by an integer
            path = path.replace("{guid}", "00000000-0000-4000-8000-000000000001")
            found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


def test_the_key_is_in_the_201_answer_only_and_it_authenticates(api):
    made = make_token(api, "write", expires_in_days=30)
    assert set(made) >= {"id", "key", "name", "scope", "created", "expiry", "last_used"}
    assert re.fullmatch(r"[0-9a-f]{64}", made["key"])
    listed = api.get("/api/tokens/").json()
    assert [t["id"] for t in listed] == [made["id"]]
    assert "key" not in listed[0] and made["key"] not in api.get("/api/tokens/").content.decode()
    # knox keeps a digest, never the key
    stored = ApiToken.objects.get(pk=made["id"])
    assert made["key"] not in (stored.digest, stored.token_key) and len(stored.digest) == 128
    # 30 days from now, to the second the request took
    expiry = timezone.datetime.fromisoformat(made["expiry"])
    assert abs((expiry - timezone.now() - timedelta(days=30)).total_seconds()) < 60
    assert with_key(made["key"]).get("/api/jobs/").status_code == 200


def test_several_tokens_per_user_each_its_own_and_others_cannot_revoke_them(api, other_user):
    a, b = make_token(api, "read"), make_token(api, "write")
    assert {t["id"] for t in api.get("/api/tokens/").json()} == {a["id"], b["id"]}
    bob = APIClient()
    bob.force_authenticate(other_user)
    assert bob.get("/api/tokens/").json() == []
    assert bob.delete(f"/api/tokens/{a['id']}/").status_code == 404
    assert with_key(a["key"]).get("/api/jobs/").status_code == 200


def test_a_read_token_reads_and_is_refused_403_on_every_unsafe_endpoint(api, user):
    user.is_staff = True  # so that the staff-only endpoints refuse for the scope, not for the role
    user.save()
    read = with_key(make_token(api, "read")["key"])
    assert read.get("/api/jobs/").status_code == 200 and read.get("/api/tokens/").status_code == 200
    endpoints = unsafe_endpoints()
    # the ones this test must not lose track of as the URL conf grows
    assert {("POST", "/api/jobs/"), ("POST", "/api/jobs/1/cancel/"), ("DELETE", "/api/jobs/1/"),
            ("POST", "/api/tokens/"), ("DELETE", "/api/tokens/1/"), ("POST", "/api/users/"),
            ("PATCH", "/api/users/1/")} <= set(endpoints), endpoints
    for method, path in endpoints:
        r = getattr(read, method.lower())(path, {}, format="json")
        assert (r.status_code, r.json()["detail"]) == (403, TokenScope.message), (method, path, r.content)
    assert Job.objects.count() == 0 and ApiToken.objects.count() == 1


def test_a_write_token_writes(api):
    write = with_key(make_token(api, "write")["key"])
    r = write.post("/api/jobs/", {"kind": "sample", "params": {"nfe": 2, "n_samples": 10}}, format="json")
    assert r.status_code == 201, r.content
    assert write.post(f"/api/jobs/{r.json()['id']}/cancel/").status_code == 202


def test_a_revoked_token_answers_401_and_the_others_keep_working(api):
    gone, kept = make_token(api, "read"), make_token(api, "read")
    client = with_key(gone["key"])
    assert client.get("/api/jobs/").status_code == 200
    assert api.delete(f"/api/tokens/{gone['id']}/").status_code == 204
    assert client.get("/api/jobs/").status_code == 401
    assert with_key(kept["key"]).get("/api/jobs/").status_code == 200
    assert [t["id"] for t in api.get("/api/tokens/").json()] == [kept["id"]]


def test_an_expired_token_answers_401(api):
    made = make_token(api, "write", expires_in_days=1)
    client = with_key(made["key"])
    assert client.get("/api/jobs/").status_code == 200
    # a day and a second later
    ApiToken.objects.filter(pk=made["id"]).update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/jobs/").status_code == 401


def test_a_token_without_expiry_lives_until_revoked(api):
    made = make_token(api, "read")
    assert made["expiry"] is None and ApiToken.objects.get(pk=made["id"]).expiry is None


def test_last_used_is_recorded_at_most_once_a_resolution(api):
    made = make_token(api, "read")
    assert made["last_used"] is None
    before = timezone.now()
    client = with_key(made["key"])
    client.get("/api/jobs/")
    first = ApiToken.objects.get(pk=made["id"]).last_used
    assert first is not None and before <= first <= timezone.now()
    client.get("/api/jobs/")  # within the resolution: no write
    assert ApiToken.objects.get(pk=made["id"]).last_used == first
    older = first - LAST_USED_RESOLUTION - timedelta(seconds=1)
    ApiToken.objects.filter(pk=made["id"]).update(last_used=older)
    client.get("/api/jobs/")
    assert ApiToken.objects.get(pk=made["id"]).last_used > first
    assert api.get("/api/tokens/").json()[0]["last_used"] is not None


def test_drf_create_token_keys_still_authenticate_beside_knox_keys(api, user, token):
    """One class tries both kinds: neither's refusal hides the other's key."""
    knox_key = make_token(api, "read")["key"]
    assert with_key(token).get("/api/jobs/").status_code == 200
    assert with_key(knox_key).get("/api/jobs/").status_code == 200
    # a DRF key has no scope: it writes
    assert with_key(token).post("/api/tokens/", {"name": "ci", "scope": "read"}, format="json").status_code == 201
    for bad in ["0" * 40, "0" * 64, "zz", "0" * 65]:
        assert with_key(bad).get("/api/jobs/").status_code == 401, bad


def test_a_deactivated_users_session_and_tokens_stop_at_once(api, user, token):
    knox_key = make_token(api, "write")["key"]
    session = APIClient()
    assert session.login(username="alice", password="pw")
    assert session.get("/api/jobs/").status_code == 200 and session.get("/").status_code == 200
    user.is_active = False
    user.save()
    assert session.get("/api/jobs/").status_code == 401
    assert session.get("/").status_code == 302  # to the login page
    assert with_key(knox_key).get("/api/jobs/").status_code == 401
    assert with_key(token).get("/api/jobs/").status_code == 401
    user.is_active = True  # reactivated: the same keys work again (nothing was revoked)
    user.save()
    assert with_key(knox_key).get("/api/jobs/").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"scope": "read"}, "name"),
    ({"name": "x"}, "scope"),
    ({"name": "x", "scope": "admin"}, "scope"),
    ({"name": "x", "scope": "read", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "scope": "read", "expires_in_days": 10**6}, "expires_in_days"),
    ({"name": "x" * 101, "scope": "read"}, "name"),
])
def test_bad_token_requests_answer_400_naming_the_field(api, body, field):
    r = api.post("/api/tokens/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert ApiToken.objects.count() == 0


def test_anonymous_cannot_list_or_make_tokens(db):
    assert APIClient().get("/api/tokens/").status_code == 401
    assert APIClient().post("/api/tokens/", {"name": "x", "scope": "write"}, format="json").status_code == 401
    assert Token.objects.count() == 0


def test_admin_lists_and_revokes_tokens_and_knox_own_admin_is_gone(api, user):
    from django.test import Client

    made = make_token(api, "read")
    user.is_staff = user.is_superuser = True
    user.save()
    admin = Client()
    admin.force_login(user)
    index = admin.get("/admin/")
    assert index.status_code == 200 and b"/admin/knox/" not in index.content
    listed = admin.get("/admin/jobs/apitoken/")
    assert listed.status_code == 200 and b"read-script" in listed.content
    assert made["key"].encode() not in listed.content
    assert admin.get("/admin/jobs/apitoken/add/").status_code == 403
    r = admin.post(f"/admin/jobs/apitoken/{made['id']}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not ApiToken.objects.exists()
    assert with_key(made["key"]).get("/api/jobs/").status_code == 401


def test_creating_and_revoking_a_token_each_write_one_audit_entry(api, user):
    from jobs.audit import AuditEntry

    made = make_token(api, "read", expires_in_days=7)
    assert api.delete(f"/api/tokens/{made['id']}/").status_code == 204
    entries = list(AuditEntry.objects.filter(user_id=user.pk).order_by("id").values_list("action", "target", "detail"))
    assert entries == [("token.create", "token read-script", "scope read, expires in 7 days"),
                       ("token.revoke", "token read-script", "")]


def test_a_named_token_cannot_make_or_revoke_tokens(api):
    """An expiring write token that could mint a token without expiry would bound nothing."""
    short = make_token(api, "write", expires_in_days=1)
    other = make_token(api, "read")
    key = with_key(short["key"])
    assert key.get("/api/jobs/").status_code == 200 and key.get("/api/tokens/").status_code == 200
    made = key.post("/api/tokens/", {"name": "forever", "scope": "write"}, format="json")
    assert made.status_code == 403 and "signed-in session" in made.json()["detail"], made.content
    assert key.delete(f"/api/tokens/{other['id']}/").status_code == 403
    assert sorted(t["name"] for t in api.get("/api/tokens/").json()) == ["read-script", "write-script"]
    # the unbounded keys may: a session's and drf_create_token's
    assert api.delete(f"/api/tokens/{other['id']}/").status_code == 204
