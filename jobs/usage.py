"""Who used the workers, and when: one JobRun per attempt of a job, from its claim to its end.

Fair sharing (jobs/scheduler.py) orders waiting jobs by the recent usage of their user and project,
decayed exponentially as Slurm's fair-share does: a worker-second `a` seconds ago counts
2^(-a / half-life). The integral of that weight over a run [s, e] is closed-form, so the usage of
every user is one aggregate query over the runs that ended recently or still run.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models.functions import Now

# beyond this many half-lives a run weighs under 2^-20 of a fresh one: left out of the sum
HORIZON_HALF_LIVES = 20


class JobRun(models.Model):
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="runs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("jobs.Project", on_delete=models.CASCADE, related_name="+")
    queue = models.CharField(max_length=32)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ended_at"]), models.Index(fields=["job", "ended_at"])]


# the run a claim opens: appended to the claim's own statement (jobs/tasks.py), no extra round trip
OPEN_RUN_SQL = ("INSERT INTO jobs_jobrun (job_id, owner_id, project_id, queue, worker, started_at) "
                "SELECT id, owner_id, project_id, queue, worker, now() FROM job")


def close_runs(job_id: int) -> None:
    """End the job's open run (its attempt ended: finished, requeued, preempted or lost)."""
    JobRun.objects.filter(job_id=job_id, ended_at__isnull=True).update(ended_at=Now())


def open_run(job) -> None:
    close_runs(job.pk)  # a redelivered job of a lost worker: the old attempt's run ends here
    JobRun.objects.create(job_id=job.pk, owner_id=job.owner_id, project_id=job.project_id, queue=job.queue,
                          worker=job.worker, started_at=Now())


# {key: decayed worker-seconds} as one JSON object; %(h)s is the half-life in seconds. In float8:
# extract() gives numeric, and power() on numeric is arbitrary precision (13 ms per 1,000 runs)
DECAYED_SQL = """
SELECT coalesce(json_object_agg(k, v), '{{}}') FROM (
    SELECT {key} AS k, sum(%(h)s / ln(2) * (
        power(2, greatest(-1000, -extract(epoch FROM now() - coalesce(ended_at, now()))::float8 / %(h)s))
      - power(2, greatest(-1000, -extract(epoch FROM now() - started_at)::float8 / %(h)s)))) AS v
    FROM jobs_jobrun WHERE ended_at IS NULL OR ended_at > now() - make_interval(secs => %(horizon)s)
    GROUP BY {key}) AS usage
"""


def decayed_args() -> dict:
    h = float(settings.LAB_FAIRSHARE_HALF_LIFE_SECONDS)
    return {"h": h, "horizon": h * HORIZON_HALF_LIVES}


def decayed_usage() -> tuple[dict[int, float], dict[int, float]]:
    """({user id: decayed worker-seconds}, {project id: decayed worker-seconds}) as of now."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT ({DECAYED_SQL.format(key='owner_id')}), ({DECAYED_SQL.format(key='project_id')})",
                    decayed_args())
        users, projects = cur.fetchone()
    return ({int(k): float(v) for k, v in users.items()}, {int(k): float(v) for k, v in projects.items()})


def day_shares(queue: str | None = None, seconds: float = 86400.0) -> list[dict]:
    """Each user's worker-seconds over the last `seconds` (runs clipped to the window), and their
    share of the total: [{"user", "seconds", "share"}], largest first."""
    sql = ("SELECT u.username, sum(extract(epoch FROM coalesce(r.ended_at, now()) "
           "  - greatest(r.started_at, now() - make_interval(secs => %(w)s)))) "
           f"FROM jobs_jobrun r JOIN {get_user_model()._meta.db_table} u ON u.id = r.owner_id "
           "WHERE (r.ended_at IS NULL OR r.ended_at > now() - make_interval(secs => %(w)s))"
           + (" AND r.queue = %(q)s" if queue else "") + " GROUP BY u.username")
    with connection.cursor() as cur:
        cur.execute(sql, {"w": seconds, "q": queue})
        rows = [(name, max(0.0, float(s))) for name, s in cur.fetchall()]
    total = sum(s for _, s in rows) or 1.0
    return [{"user": name, "seconds": round(s, 1), "share": s / total}
            for name, s in sorted(rows, key=lambda r: (-r[1], r[0]))]
