"""/ws/jobs/ sends each job's events newest-last: a job's events are broadcast by several processes (the
web's `queued`, the worker's `running` and `succeeded`), so one can reach the stream after a newer one;
the stream drops it rather than let a client show a running job as queued."""
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs.events import project_group
from jobs.projects import personal_project
from tests.helpers import ws_connect, ws_read

pytestmark = pytest.mark.django_db(transaction=True)


def status(job_id, project_id, seq, value):
    return {"seq": seq, "type": "status", "data": {"status": value}, "ts": "2026-12-08T00:00:00+00:00",
            "job": job_id, "project": project_id}


def test_an_event_older_than_one_sent_is_dropped_per_job(live_server_url, token, user):
    project = personal_project(user).pk
    send = async_to_sync(get_channel_layer().group_send)
    with ws_connect(live_server_url, "/ws/jobs/", token=token) as conn:
        conn.send('{"type": "ping"}')  # answered once the consumer has joined its groups
        assert ws_read(conn)["type"] == "pong"
        # job 7's `running` (seq 2) from the worker came first, the web's `queued` (seq 1) late; job 8 apart
        for event in (status(7, project, 2, "running"), status(7, project, 1, "queued"),
                      status(8, project, 1, "queued"), status(7, project, 3, "succeeded")):
            send(project_group(project), {"type": "job.events", "events": [event]})
        got = [ws_read(conn) for _ in range(3)]
    assert [(e["job"], e["seq"], e["data"]["status"]) for e in got] == [
        (7, 2, "running"), (8, 1, "queued"), (7, 3, "succeeded")]
