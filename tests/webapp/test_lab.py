"""The launcher's embedded servers: a laptop with no PostgreSQL or Redis still gets real ones."""
import subprocess
import sys

import psycopg
import redis

from webapp.lab import ROOT, servers


def test_embedded_postgresql_and_redis_come_up_and_serve(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with servers(tmp_path / "lab") as env:
        assert env["LAB_EMBEDDED"] == "postgresql,redis"
        url = env["DATABASE_URL"]
        # Django's settings read the same URL: check what they make of it, in a fresh process
        out = subprocess.run(
            [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings.local';"
             "django.setup(); from django.db import connection; from django.conf import settings;"
             "print(connection.cursor().execute('select 41 + 1').fetchone()[0], settings.CELERY_BROKER_URL)"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        answer, broker = out.stdout.split()
        assert answer == "42"
        assert broker.startswith("redis+socket://")  # kombu's spelling of the unix socket
        assert redis.Redis.from_url(env["REDIS_URL"]).ping()
        host = url.split("@")[1].split("/")[0].replace("%2F", "/")
        with psycopg.connect(host=host, user="postgres", dbname="lab") as conn:
            assert conn.execute("select current_database()").fetchone()[0] == "lab"


def test_production_settings_refuse_an_embedded_server():
    env = {"DJANGO_SETTINGS_MODULE": "webapp.settings.production", "DJANGO_SECRET_KEY": "x" * 60,
           "DATABASE_URL": "postgres://u@localhost/lab", "REDIS_URL": "redis://localhost:6379/0",
           "LAB_EMBEDDED": "postgresql", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "refuse embedded servers" in out.stderr


def test_production_settings_refuse_the_default_secret_key():
    env = {"DJANGO_SETTINGS_MODULE": "webapp.settings.production",
           "DATABASE_URL": "postgres://u@localhost/lab", "REDIS_URL": "redis://localhost:6379/0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "DJANGO_SECRET_KEY" in out.stderr
