"""The Tokens page and the Users page in a real browser, against the live server: a key shown once
then revoked (401 over plain HTTP), and a user added by staff who then logs in."""
from __future__ import annotations

import httpx
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from jobs.tokens import ApiToken
from tests.browser.conftest import TIMEOUT_MS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_make_a_read_token_see_its_key_once_use_it_and_revoke_it(new_page, user, live_server_url):
    page = new_page(user)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/settings/tokens/")
    expect(page.locator("#tokens-body")).to_contain_text("No tokens yet.")
    page.get_by_label("Name").fill("nightly-ci")
    page.get_by_label("Scope").select_option("read")
    page.get_by_label("Expires after").fill("7")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-key")).to_be_visible()
    key = page.locator("#new-key-value").inner_text()
    assert len(key) == 64
    row = page.locator("#tokens-body tr").filter(has_text="nightly-ci")
    expect(row).to_contain_text("read")
    expect(row.locator("td").nth(3)).to_contain_text("never")  # last used

    http = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Token {key}"}, timeout=60)
    assert http.get("/api/jobs/").status_code == 200
    assert http.post("/api/jobs/", json={"kind": "sample", "params": {}}).status_code == 403  # read scope

    page.reload()  # the key was shown once: it is nowhere on the page now
    expect(page.locator("#new-key")).to_be_hidden()
    assert key not in page.content()
    row = page.locator("#tokens-body tr").filter(has_text="nightly-ci")
    expect(row.locator("td").nth(3)).not_to_contain_text("never")  # used a moment ago

    confirm = page.get_by_role("alertdialog")
    row.get_by_role("button", name="Revoke nightly-ci").click()
    expect(confirm).to_contain_text('Revoke the token "nightly-ci"?')
    page.get_by_role("button", name="Cancel").click()
    assert http.get("/api/jobs/").status_code == 200
    row.get_by_role("button", name="Revoke nightly-ci").click()
    page.get_by_role("button", name="Revoke for good").click()
    expect(page.locator("#tokens-body")).to_contain_text("No tokens yet.")
    assert http.get("/api/jobs/").status_code == 401
    assert not ApiToken.objects.exists()


def test_a_bad_expiry_is_named_on_the_page(new_page, user):
    page = new_page(user)
    page.goto("/settings/tokens/")
    page.get_by_label("Name").fill("x")
    page.get_by_label("Expires after").evaluate("el => el.removeAttribute('max')")
    page.get_by_label("Expires after").fill("100000")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-error")).to_contain_text("expires_in_days")
    assert not ApiToken.objects.exists()


def test_staff_add_a_user_who_logs_in_and_is_then_deactivated(new_page, browser, user, live_server_url):
    # alice is no staff: no Users link, and the page is a 404 for her
    alice = new_page(user)
    expect(alice.get_by_role("navigation", name="Account").get_by_role("link", name="Users")).to_have_count(0)
    assert alice.goto("/users/").status == 404

    boss = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    page = new_page(boss)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Users").click()
    page.wait_for_url("**/users/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Email").fill("carol@example.org")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#new-user")).to_be_visible()
    password = page.locator("#new-user-secret").inner_text()
    assert len(password) >= 16
    expect(page.locator('#users-body tr[data-user="carol"]')).to_contain_text("active")

    ctx = browser.new_context(base_url=live_server_url)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        carol = ctx.new_page()
        carol.goto("/accounts/login/")
        carol.get_by_label("Username").fill("carol")
        carol.get_by_label("Password").fill(password)
        carol.get_by_role("button", name="Log in").click()
        # the password boss saw is for this login only: she chooses her own before anything else
        carol.wait_for_url("**/accounts/password_change/**")
        expect(carol.get_by_role("heading", name="Choose your password")).to_be_visible()
        carol.get_by_label("Current password").fill(password)
        carol.get_by_label("New password").fill("a long phrase of carol's own")
        carol.get_by_label("Repeat it").fill("a long phrase of carol's own")
        carol.get_by_role("button", name="Set password").click()
        carol.wait_for_url(f"{live_server_url}/")
        expect(carol.locator(".who")).to_contain_text("carol")
        assert get_user_model().objects.get(username="carol").check_password("a long phrase of carol's own")

        page.get_by_role("button", name="Deactivate carol").click()
        page.get_by_role("button", name="Yes, deactivate").click()
        expect(page.locator('#users-body tr[data-user="carol"]')).to_contain_text("deactivated")
        assert not get_user_model().objects.get(username="carol").is_active
        carol.reload()  # her session stops at once
        assert "/accounts/login/" in carol.url
    finally:
        ctx.close()
