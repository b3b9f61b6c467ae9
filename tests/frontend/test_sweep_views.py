"""frontend/sweeps.py: the sweep pages, rendered by Django for a logged-in user."""
import json

import pytest

from jobs.sweeps.models import SweepTrial

pytestmark = pytest.mark.django_db

GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}
SWEEP = {"name": "nfe sweep", "kind": "sample", "method": "grid", "params": {"model": GMM, "n_samples": 64},
         "space": {"nfe": {"values": [4, 8]}}, "objective": {"key": "exact_rmse", "goal": "min"}}


def test_sweep_pages_need_a_login(client):
    for url in ["/sweeps/", "/sweeps/1/"]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next="), url


def test_the_list_and_the_page_of_a_sweep_and_its_trials_link(client, api, user, other_user):
    sweep_id = api.post("/api/sweeps/", SWEEP, format="json").json()["id"]
    client.force_login(user)
    listed = client.get("/sweeps/").content.decode()
    assert f'href="/sweeps/{sweep_id}/"' in listed and "nfe sweep" in listed
    page = client.get(f"/sweeps/{sweep_id}/")
    assert page.status_code == 200
    boot = json.loads(page.content.decode().split('id="boot" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert boot == api.get(f"/api/sweeps/{sweep_id}/").json()  # the first paint is the API's answer
    trial = SweepTrial.objects.get(sweep_id=sweep_id)
    job_page = client.get(f"/jobs/{trial.job_id}/").content.decode()
    assert f'href="/sweeps/{sweep_id}/"' in job_page and f"trial {trial.number} of sweep" in job_page
    client.force_login(other_user)
    assert client.get(f"/sweeps/{sweep_id}/").status_code == 404
    assert f"/sweeps/{sweep_id}/" not in client.get("/sweeps/").content.decode()
