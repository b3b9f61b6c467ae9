"""REST of sweeps without a worker: what is refused (a 400 naming the field), what a new sweep makes
(its first `parallel` trials, as jobs of its project), and control of a sweep whose trials are queued."""
import optuna
import pytest

from jobs.models import Job
from jobs.sweeps import study as studies
from jobs.sweeps.models import Sweep, SweepTrial

pytestmark = pytest.mark.django_db

GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}
BASE = {"model": GMM, "n_samples": 64, "exact_subset": 16}
GRID = {"name": "solvers", "kind": "sample", "params": BASE, "method": "grid",
        "space": {"sampler": {"values": ["ddim", "dpm_solver_pp_2m", "deis_3"]}, "nfe": {"values": [5, 10]}},
        "objective": {"key": "exact_rmse", "goal": "min"}, "parallel": 2}


@pytest.mark.parametrize("change, field", [
    ({"method": "bayes"}, "method"),
    ({"space": {}}, "space"),
    ({"space": {"nfe": {"values": []}}}, "space.nfe"),
    ({"space": {"nfe": {"low": 5, "high": 20}}}, "space.nfe"),  # a grid takes lists
    ({"space": {"nfe": [5, 10]}}, "space.nfe"),
    ({"space": {"nfe": {"values": [5, 5]}}}, "space.nfe"),
    ({"space": {"bad name!": {"values": [1]}}}, "space.bad name!"),
    ({"space": {"sampler": {"values": ["ddim", "magic"]}}}, "space.sampler"),  # a value the kind refuses
    ({"space": {"nfe": {"values": [5, 0]}}}, "space.nfe"),
    ({"method": "tpe", "space": {"nfe": {"low": 20, "high": 5}}}, "space.nfe"),
    ({"method": "tpe", "space": {"t_eps": {"low": 0.0, "high": 1.0, "log": True}}}, "space.t_eps"),
    ({"method": "tpe", "space": {"nfe": {"low": 2.0, "high": 40.0}}}, "space.nfe"),  # floats for an integer
    ({"objective": {"key": "exact_rmse", "goal": "lowest"}}, "objective.goal"),
    ({"objective": {"goal": "min"}}, "objective.key"),
    ({"objective": "exact_rmse"}, "objective"),
    ({"early_stop": {"metric": "loss", "rule": "hyperband"}}, "early_stop.rule"),
    ({"early_stop": {"rule": "median"}}, "early_stop.metric"),
    ({"parallel": 0}, "parallel"),
    ({"max_trials": "many"}, "max_trials"),
    ({"kind": "paint"}, "kind"),
    ({"params": {**BASE, "n_samples": -1}}, "params"),
    ({"project": 999999}, "project"),
    ({"project": True}, "project"),
    ({"name": "a\x00b"}, "name"),
    ({"early_stop": {"metric": "lo\x00ss"}}, "early_stop.metric"),
    ({"space": {"sampler": {"values": ["ddim\x00"]}}}, "space.sampler.values.0"),
    ({"params": {**BASE, "sampler": "ddim\x00"}}, "params.sampler"),
])
def test_bad_sweeps_answer_400_naming_the_field(api, change, field):
    r = api.post("/api/sweeps/", {**GRID, **change}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert Sweep.objects.count() == 0 and Job.objects.count() == 0


def test_a_grid_sweep_makes_its_first_parallel_trials_as_jobs(api, user):
    r = api.post("/api/sweeps/", GRID, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "running" and body["max_trials"] == 6 and body["best"] is None
    assert len(body["trials"]) == 2  # parallel
    jobs = Job.objects.filter(pk__in=body["trials"])
    sweep = Sweep.objects.get(pk=body["id"])
    assert {j.project_id for j in jobs} == {sweep.project_id} and {j.status for j in jobs} == {"queued"}
    for trial in SweepTrial.objects.filter(sweep=sweep):
        # the sampler's values are in the job's validated params, the base params kept
        assert trial.job.params["sampler"] == trial.params["sampler"] and trial.job.params["nfe"] == trial.params["nfe"]
        assert trial.job.params["n_samples"] == 64 and trial.job.params["model"]["means"] == GMM["means"]
    # Optuna holds the study, its two trials running
    study = optuna.load_study(study_name=sweep.study_name, storage=studies.storage())
    assert [t.state.name for t in study.trials] == ["RUNNING", "RUNNING"]
    assert study.direction == optuna.study.StudyDirection.MINIMIZE


def test_a_dotted_name_sets_a_nested_param(api):
    r = api.post("/api/sweeps/", {"kind": "train", "method": "grid", "params": {"steps": 5},
                                  "space": {"data.type": {"values": ["moons", "digits"]}},
                                  "objective": {"key": "final_loss", "goal": "min"}}, format="json")
    assert r.status_code == 201, r.content
    job = Job.objects.get(pk=r.json()["trials"][0])
    assert job.params["data"]["type"] in ("moons", "digits") and job.params["steps"] == 5


def test_pause_holds_a_queued_trial_resume_runs_it_again_cancel_ends_all(api, django_capture_on_commit_callbacks):
    sweep_id = api.post("/api/sweeps/", {**GRID, "parallel": 1}, format="json").json()["id"]
    first = SweepTrial.objects.get(sweep_id=sweep_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/sweeps/{sweep_id}/pause/").json()["status"] == "paused"
    first.refresh_from_db()
    # queued, never started: held (cancelled before it starts), told failed, nothing new made
    assert first.held and first.job.status == "cancelled" and first.job.started_at is None
    assert first.state == "fail" and first.note.startswith("held:")
    assert SweepTrial.objects.filter(sweep_id=sweep_id).count() == 1
    assert api.post(f"/api/sweeps/{sweep_id}/pause/").status_code == 409
    assert api.post(f"/api/sweeps/{sweep_id}/resume/").json()["status"] == "running"
    rerun = SweepTrial.objects.get(sweep_id=sweep_id, retry_of=first.job_id)
    assert rerun.params == first.params and rerun.job.status == "queued"
    assert SweepTrial.objects.filter(sweep_id=sweep_id).count() == 2  # parallel 1: only the re-run
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/sweeps/{sweep_id}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    rerun.refresh_from_db()
    assert rerun.job.status == "cancelled" and rerun.state == "fail"  # Optuna was told: no value
    assert len(api.get(f"/api/sweeps/{sweep_id}/").json()["trials"]) == 2  # no new trial after a cancel


def test_other_users_sweep_is_404(api, other_user):
    from rest_framework.test import APIClient

    sweep_id = api.post("/api/sweeps/", GRID, format="json").json()["id"]
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.get(f"/api/sweeps/{sweep_id}/").status_code == 404
    assert other.post(f"/api/sweeps/{sweep_id}/cancel/").status_code == 404


def test_a_sweep_whose_step_was_lost_is_advanced_by_the_reaper(api):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.sweeps.controller import advance_stalled

    sweep_id = api.post("/api/sweeps/", {**GRID, "parallel": 1}, format="json").json()["id"]
    trial = SweepTrial.objects.get(sweep_id=sweep_id)
    # the trial ended, but its process died before the controller ran: no hook, as a crash leaves it
    Job.objects.filter(pk=trial.job_id).update(status="succeeded", result={"exact_rmse": 0.25},
                                               finished_at=timezone.now() - timedelta(seconds=60))
    assert advance_stalled() == [sweep_id]
    trial.refresh_from_db()
    assert trial.state == "complete" and trial.values == [0.25]
    sweep = Sweep.objects.get(pk=sweep_id)
    assert sweep.trials.count() == 2 and sweep.best == {"job": trial.job_id, "value": 0.25, "params": trial.params}
    assert advance_stalled() == []  # nothing left to catch up


def test_roles_a_viewer_reads_a_sweep_but_neither_launches_nor_controls_one(api, user, other_user):
    from rest_framework.test import APIClient

    from jobs.projects import Membership, Project

    team = Project.objects.create(name="team")
    Membership.objects.create(project=team, user=user, role="admin")
    Membership.objects.create(project=team, user=other_user, role="viewer")
    sweep_id = api.post("/api/sweeps/", {**GRID, "project": team.pk}, format="json").json()["id"]
    assert {j.project_id for j in Job.objects.filter(sweep_trial__sweep_id=sweep_id)} == {team.pk}
    viewer = APIClient()
    viewer.force_authenticate(other_user)
    assert viewer.get(f"/api/sweeps/{sweep_id}/").status_code == 200
    assert viewer.post(f"/api/sweeps/{sweep_id}/pause/").status_code == 403
    r = viewer.post("/api/sweeps/", {**GRID, "project": team.pk}, format="json")
    assert r.status_code == 400 and "project" in r.json()


def test_a_deleted_trial_job_leaves_its_trial_counted(api, django_capture_on_commit_callbacks):
    from django.utils import timezone

    sweep_id = api.post("/api/sweeps/", {**GRID, "parallel": 1}, format="json").json()["id"]
    trial = SweepTrial.objects.get(sweep_id=sweep_id)
    Job.objects.filter(pk=trial.job_id).update(status="failed", error="boom", finished_at=timezone.now())
    from jobs.sweeps.controller import advance

    advance(sweep_id)  # told failed, the next trial made
    assert api.delete(f"/api/jobs/{trial.job_id}/").status_code == 204
    trial.refresh_from_db()
    assert trial.job_id is None and trial.state == "fail" and trial.note == "boom"
    advance(sweep_id)
    body = api.get(f"/api/sweeps/{sweep_id}/").json()
    # still two trials made: the deleted one counts, no extra trial appears
    assert len(body["trial_rows"]) == 2 and len(body["trials"]) == 1
    assert body["trial_rows"][0]["status"] == "deleted"


def test_asha_prunes_a_trial_below_the_rung_through_the_trials_pruner(api):
    """The wiring of `asha` (Optuna's SuccessiveHalvingPruner, reduction factor 2, first rung at step 1):
    two trials report at step 1; the worse one is not promoted and is pruned with the rule's name."""
    from jobs.sweeps.pruning import pruner_for

    body = {**GRID, "parallel": 2, "method": "grid", "space": {"nfe": {"values": [5, 10]}},
            "early_stop": {"metric": "loss", "rule": "asha", "min_resource": 1, "reduction_factor": 2}}
    sweep_id = api.post("/api/sweeps/", body, format="json").json()["id"]
    first, second = SweepTrial.objects.filter(sweep_id=sweep_id).order_by("number")
    assert pruner_for(first.job_id).observe(1, 0.2) is None  # alone at its rung: promoted
    assert pruner_for(second.job_id).observe(1, 0.9) == "pruned at step 1 (successive halving)"
    second.refresh_from_db()
    assert second.pruned_at_step == 1
    assert pruner_for(Job.objects.create(owner=first.job.owner, kind="sample").pk) is None  # not a trial


def test_optunas_url_reaches_a_unix_socket_database():
    """The embedded PostgreSQL listens on a unix socket: its folder must reach psycopg as the host."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
    from sqlalchemy.engine import make_url

    db = {"HOST": "/srv/lab/.lab/pg", "PORT": "", "USER": "lab", "PASSWORD": "p@ss/w:rd", "NAME": "lab"}
    _, kwargs = PGDialect_psycopg().create_connect_args(make_url(studies.storage_url(db)))
    assert kwargs == {"dbname": "lab", "user": "lab", "password": "p@ss/w:rd", "host": "/srv/lab/.lab/pg"}


def test_over_the_active_jobs_cap_a_sweep_waits_for_room_instead_of_failing(api, user, make_job, settings):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.sweeps.controller import advance, advance_stalled

    settings.LAB_MAX_ACTIVE_JOBS = 2
    other = make_job()  # one of alice's own jobs takes a place
    sweep_id = api.post("/api/sweeps/", {**GRID, "parallel": 2}, format="json").json()["id"]
    sweep = Sweep.objects.get(pk=sweep_id)
    assert sweep.trials.count() == 1 and sweep.status == "running"
    assert sweep.error.startswith("waiting for room for its next trial: you have 2 queued or running jobs")
    # its trial ends while the other job still holds its place: nothing running, yet the sweep waits
    first = sweep.trials.get()
    Job.objects.filter(pk=first.job_id).update(status="succeeded", result={"exact_rmse": 0.5},
                                               finished_at=timezone.now())
    Job.objects.filter(pk=other.pk).update(status="running")
    Job.objects.create(owner=user, kind="sample", status="running")
    advance(sweep_id)
    sweep.refresh_from_db()
    assert sweep.status == "running" and sweep.trials.count() == 1 and sweep.error.startswith("waiting for room")
    # room again: the reaper's pass makes the next trials (a running sweep with nothing queued or running)
    Job.objects.filter(owner=user, status="running").update(status="cancelled", finished_at=timezone.now())
    Sweep.objects.filter(pk=sweep_id).update(created_at=timezone.now() - timedelta(seconds=60))
    assert advance_stalled() == [sweep_id]
    sweep.refresh_from_db()
    assert sweep.trials.count() == 3 and sweep.error == "" and sweep.status == "running"
