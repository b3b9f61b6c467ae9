"""Browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser).

The server side (live_server_url: daphne serving HTTP + websockets on the test database,
celery_worker, user, other_user) comes from the root tests/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots and downloads of the run; test-artifacts/ is git-ignored.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "browser"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser(live_server_url):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    # a loaded CI machine may need more than expect()'s default 5 s for a page to catch up
    expect.set_options(timeout=20_000)

    # Playwright's sync API runs an event loop in this thread, and Django then refuses ORM calls
    # (fixtures' setup and flush) as "async context". Nothing here shares a connection across
    # threads, so lift the guard while the browser lives, for this module only.
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield b
            b.close()
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture
def new_page(browser, live_server_url):
    """new_page(user) -> a logged-in page in its own browser context (own cookies)."""
    contexts = []
    console_errors = []

    def make(user, viewport=None):
        _password_the_server_can_check(user)
        ctx = browser.new_context(base_url=live_server_url, accept_downloads=True,
                                  viewport=viewport or {"width": 1280, "height": 900})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill("pw")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server_url}/")
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    # A JS exception on any page is a failure even when the assertions passed; HTTP errors
    # the tests provoke on purpose (400, 404) are logged by the browser as "Failed to load resource".
    assert not [e for e in console_errors if not e.startswith("Failed to load resource")], console_errors


def _password_the_server_can_check(user, password="pw"):
    """The live server runs webapp.settings.test, whose only hasher is MD5 (fast tests). When
    this process runs other settings (`webapp.lab exec` sets DJANGO_SETTINGS_MODULE to
    webapp.settings.local unless it is set), the fixture user's hash is one the server cannot
    check, and logging in fails: store the password the server's way."""
    from django.conf import settings
    from django.contrib.auth.hashers import MD5PasswordHasher

    if settings.SETTINGS_MODULE == "webapp.settings.test":
        return
    hasher = MD5PasswordHasher()
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])


@pytest.fixture
def artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
