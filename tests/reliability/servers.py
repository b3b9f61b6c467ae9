"""Private servers for fault tests: a PostgreSQL and a Redis of our own, on free ports, that a
test may kill and restart without touching the shared servers other test runs use.

`FaultLab` puts a whole lab on them: database migrated, two users with tokens, an ASGI
server, and Celery workers started on demand, each a real process.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from tests.procs import ROOT, OutputWatcher, start_web, start_worker, stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """`redis-server` on a free port, no persistence: a restart loses everything, like a crash."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="lab-fault-redis-"))
        self.proc = None
        self.start()

    def start(self):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        OutputWatcher(self.proc, "redis").wait_for("Ready to accept connections", timeout=30)
        # loaded (if `stop_keeping_data` left it): the next crash-like restart must start empty again
        (self.dir / "dump.rdb").unlink(missing_ok=True)
        atexit.register(self.kill)

    def stop_keeping_data(self):
        """Shut down as a persistent Redis does (compose runs it with `appendonly yes`): the next
        `start()` finds every key and message again, the reaper's broker marker included."""
        import redis

        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.port).shutdown(save=True)
        self.proc.wait(30)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self):
        self.kill()
        self.start()


class PrivatePostgres:
    """A throw-away cluster (pgserver's binaries, run as its unprivileged user when we are root)."""

    def __init__(self):
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lab-fault-pg-"))
        self.data = self.dir / "data"
        self.user = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.dir)
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--encoding=utf8", "-N")
        self.start()
        subprocess.run([str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q",
                        "-c", "CREATE DATABASE lab"], check=True, stdout=subprocess.DEVNULL)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/lab"
        atexit.register(self.close)  # a run that dies before its fixture's teardown leaves no server behind

    def _run(self, exe, *args):
        subprocess.run([str(self.bin / exe), *args], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        # fsync off: a test cluster; "immediate" stops below still exercise crash recovery
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off", "start")

    def kill(self):
        """Stop at once, like a crash: every connection is cut, nothing is shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")

    def restart(self):
        self.kill()
        self.start()

    def close(self):
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


SETUP = """
import django, json
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
call_command("migrate", verbosity=0)
tokens = {}
for name in ("alice", "bob"):
    u = get_user_model().objects.create_user(name, password="pw")
    tokens[name] = Token.objects.create(user=u).key
print(json.dumps(tokens))
"""


class FaultLab:
    """A lab on private servers: web server, users, tokens; workers started by the test."""

    def __init__(self, **knobs):
        self.redis = PrivateRedis()
        self.pg = PrivatePostgres()
        self.media = Path(tempfile.mkdtemp(prefix="lab-fault-media-"))
        self.env = {"DATABASE_URL": self.pg.url, "LAB_DB_NAME": "lab", "REDIS_URL": self.redis.url,
                    "LAB_MEDIA_ROOT": str(self.media), **{k: str(v) for k, v in knobs.items()}}
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings.test", **self.env}
        out = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True,
                             text=True)
        import json

        self.tokens = json.loads(out.stdout.strip().splitlines()[-1])
        self.web, self.web_out, self.url = start_web(extra_env=self.env)
        self.workers: dict[str, tuple] = {}

    def start_worker(self, name: str, queues: str = "gpu,cpu", concurrency: int = 1, **knobs):
        proc, out = start_worker(name, queues, extra_env={**self.env, **{k: str(v) for k, v in knobs.items()}},
                                 concurrency=concurrency)
        self.workers[name] = (proc, out, set(queues.split(",")))
        return proc, out

    def worker_for(self, queue: str) -> str:
        """A live worker serving `queue`, started if there is none (workers outlive tests: starting
        one costs seconds)."""
        for name, (proc, _, queues) in list(self.workers.items()):
            if proc.poll() is None and queue in queues:
                return name
        name = f"w{len(self.workers) + 1}-{queue}"
        self.start_worker(name)
        return name

    def kill_worker(self, name: str) -> None:
        """SIGKILL the whole worker (main process and its pool): a machine dying."""
        proc = self.workers.pop(name)[0]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def worker_child(self, name: str) -> psutil.Process:
        """The worker's one pool process, the one that runs its job."""
        children = psutil.Process(self.workers[name][0].pid).children()
        assert len(children) == 1, children
        return children[0]

    def kill_worker_child(self, name: str) -> int:
        """SIGKILL the pool process running the job (an OOM kill); the main process lives on."""
        child = self.worker_child(name)
        child.send_signal(signal.SIGKILL)
        return child.pid

    def job_folder(self, job_id: int) -> Path:
        """The job's folder, named by its storage key (jobs/tasks.py job_dir), read from the lab's database."""
        import psycopg

        with psycopg.connect(self.pg.url) as conn:
            (key,) = conn.execute("SELECT storage_key FROM jobs_job WHERE id = %s", [job_id]).fetchone()
        return self.media / "jobs" / str(key)

    def stop_all_workers(self) -> None:
        for name in list(self.workers):
            stop(self.workers.pop(name)[0])

    def close(self):
        for name in list(self.workers):
            self.kill_worker(name)
        stop(self.web, signal.SIGKILL)  # a throw-away server: no graceful shutdown to wait for
        self.redis.kill()
        shutil.rmtree(self.redis.dir, ignore_errors=True)
        self.pg.close()
        shutil.rmtree(self.media, ignore_errors=True)
