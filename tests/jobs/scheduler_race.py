"""One scheduler process of tests/jobs/test_scheduler.py's race: waits for "go" on stdin, then runs
passes until no job of QUEUE waits, finishing at once what it admitted (a slot frees), and prints
the ids it admitted as one JSON line."""
import json
import sys
import time

QUEUE = "race-test"


def main():
    import django

    django.setup()
    from django.db.models.functions import Now

    from jobs import scheduler
    from jobs.models import Job

    print("ready", flush=True)
    sys.stdin.readline()
    mine, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ids = scheduler.schedule()
        mine += ids
        if ids:
            Job.objects.filter(pk__in=ids).update(status="succeeded", finished_at=Now())
        elif not Job.objects.filter(queue=QUEUE, status="queued").exists():
            break
    print(json.dumps(mine), flush=True)


if __name__ == "__main__":
    main()
