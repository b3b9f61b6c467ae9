"""`manage.py check --deploy` with production settings: no warnings; unsafe settings are refused."""
import os
import secrets
import subprocess
import sys

from tests.procs import ROOT


def manage(*args, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("LAB_EMBEDDED", "DJANGO_DEBUG")}
    full.update({"DJANGO_SETTINGS_MODULE": "webapp.settings.production", **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    r = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
               DJANGO_ALLOWED_HOSTS="lab.example.org")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "System check identified no issues" in r.stdout


def test_production_settings_refuse_the_default_key_debug_and_embedded_servers():
    assert "DJANGO_SECRET_KEY" in manage("check").stderr
    key = secrets.token_urlsafe(50)
    assert "DJANGO_DEBUG" in manage("check", DJANGO_SECRET_KEY=key, DJANGO_DEBUG="true").stderr
    assert "embedded" in manage("check", DJANGO_SECRET_KEY=key, LAB_EMBEDDED="postgresql").stderr
