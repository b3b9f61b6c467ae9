"""`lab` and `Lab` against a live server and a real worker: submit, watch through a dropped
websocket, download, cancel, bad params, ls, login."""
import json
import stat
import subprocess

import httpx
import pytest

from jobs.models import Job
from labclient import Lab

from .conftest import GMM, lab_cmd, run_lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

SMALL = {"model": GMM, "sampler": "dpm_solver_pp_2m", "nfe": 20, "n_samples": 2000, "seed": 5}
# runs long enough to be cancelled while running (tests/ws/test_job_stream.py's cancel job)
LONG = {"model": GMM, "sampler": "ddim", "nfe": 1000, "n_samples": 200000}


def test_submit_and_watch_through_a_dropped_websocket_then_download(celery_worker, live_server_url, token, proxy,
                                                                    lab_env, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(SMALL))
    done = run_lab(lab_env(proxy.url), "submit", "sample", "--params", str(params), "--watch", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    job_id = int(done.stderr.split("job ", 1)[1].split()[0])

    # the proxy cut the first socket after its first frames; the client came back with the seq it had
    assert proxy.dropped.is_set()
    ws = proxy.ws_requests()
    assert len(ws) >= 2, ws
    resumed_after = int(ws[1].split("after=", 1)[1].split()[0])
    assert ws[0].split("after=", 1)[1].startswith("0") and resumed_after >= 1, ws
    # every event once, in order, the same as stored, ending succeeded
    http = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Token {token}"}, timeout=60)
    stored = http.get(f"/api/jobs/{job_id}/events/").json()
    assert [e["seq"] for e in events] == list(range(1, len(stored) + 1))
    assert [(e["seq"], e["type"], e["data"]) for e in events] == [(e["seq"], e["type"], e["data"]) for e in stored]
    assert events[-1]["data"]["status"] == "succeeded"
    assert resumed_after < events[-1]["seq"]

    # `lab download` writes what the REST download serves, byte for byte
    out = tmp_path / "arts"
    got = run_lab(lab_env(live_server_url), "download", str(job_id), "--out", str(out))
    assert got.returncode == 0, got.stderr
    arts = http.get(f"/api/jobs/{job_id}/artifacts/").json()
    assert arts and sorted(p.name for p in out.iterdir()) == sorted(a["name"] for a in arts)
    for a in arts:
        assert (out / a["name"]).read_bytes() == http.get(a["url"]).content, a["name"]

    # `lab ls --json` parses and lists it as it ended; `lab logs` answers
    listed = run_lab(lab_env(live_server_url), "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows[job_id]["status"] == "succeeded" and rows[job_id]["kind"] == "sample"
    assert run_lab(lab_env(live_server_url), "logs", str(job_id)).returncode == 0

    # the Python API sees the same job
    job = Lab(live_server_url, token).job(job_id)
    assert job.status == "succeeded" and job.result["nfe_used"] == 20


def test_cancel_of_a_running_job_makes_lab_watch_exit_2(celery_worker, live_server_url, token, lab_env):
    lab = Lab(live_server_url, token)
    job = lab.submit("sample", LONG)
    env = lab_env(live_server_url)
    watcher = subprocess.Popen(lab_cmd("watch", str(job.id)), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        for ev in job.events():  # running, and past its first step
            if ev.type == "progress":
                break
        cancelled = run_lab(env, "cancel", str(job.id))
        assert cancelled.returncode == 0, cancelled.stderr
        _, err = watcher.communicate(timeout=180)
    finally:
        watcher.kill()
    assert watcher.returncode == 2, err
    assert "cancelled" in err
    assert job.status == "cancelled"


def test_wait_returns_the_finished_job(celery_worker, live_server_url, token):
    job = Lab(live_server_url, token).submit("sample", SMALL)
    ended = job.wait()
    assert ended.status == "succeeded" and ended.result["nfe_used"] == 20
    assert [a.name for a in job.artifacts()] and all(a.size > 0 for a in job.artifacts())


def test_bad_param_prints_the_field_and_exits_non_zero(live_server_url, lab_env, tmp_path):
    params = tmp_path / "bad.json"
    params.write_text(json.dumps({"nfe": "ten"}))
    r = run_lab(lab_env(live_server_url), "submit", "sample", "--params", str(params))
    assert r.returncode != 0
    assert "params.nfe" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_login_with_a_token_stores_it_0600_and_later_commands_use_it(live_server_url, lab_env, tmp_path):
    env = lab_env(live_server_url)
    token = env.pop("LAB_TOKEN")
    env.pop("LAB_URL")
    r = run_lab(env, "login", "--url", live_server_url, "--token", token)
    assert r.returncode == 0, r.stderr
    saved = tmp_path / "config" / "lab" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": live_server_url, "token": token}
    assert run_lab(env, "ls", "--json").returncode == 0
    wrong = run_lab(env, "login", "--url", live_server_url, "--token", "0" * 40)
    assert wrong.returncode != 0 and "401" in wrong.stderr


def test_login_with_a_password_creates_a_named_token(live_server_url, user, monkeypatch, tmp_path):
    """Asked interactively: the URL, an empty token, then the username and password."""
    from typer.testing import CliRunner

    from labclient import cli
    from tests.browser.conftest import _password_the_server_can_check

    from jobs.tokens import ApiToken

    _password_the_server_can_check(user)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    r = CliRunner().invoke(cli.app, ["login"], input=f"{live_server_url}\n\nalice\npw\n")
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "config" / "lab" / "config.json").read_text())
    token = ApiToken.objects.get(user=user)
    assert token.scope == "write" and token.name.startswith("lab cli on ")
    assert Lab(saved["url"], saved["token"]).jobs() == []


def test_submit_asking_more_devices_than_any_worker_has_is_a_400_naming_devices(celery_worker, live_server_url, token):
    from labclient.errors import ApiError

    with pytest.raises(ApiError) as err:
        Lab(live_server_url, token).submit("sample", SMALL, devices=1024)
    assert err.value.status == 400 and list(err.value.body) == ["devices"], err.value.body


def test_lab_submit_passes_priority_queue_and_devices(celery_worker, live_server_url, lab_env, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(SMALL))
    env = lab_env(live_server_url)
    r = run_lab(env, "submit", "sample", "--params", str(params), "--devices", "1024")
    assert r.returncode != 0 and "devices" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_lab(env, "submit", "sample", "--params", str(params), "--queue", "no such pool!")
    assert r.returncode != 0 and "queue" in r.stderr, r.stderr
    r = run_lab(env, "submit", "sample", "--params", str(params), "--priority", "low", "--json")
    assert r.returncode == 0, r.stderr
    job = Job.objects.get(pk=json.loads(r.stdout)["id"])
    assert job.priority == "low"
