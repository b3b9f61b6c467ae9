"""GET /api/queue/: per queue, what runs, what waits in the scheduler's order and why, and each user's
share of the last day's worker-seconds (the Queue page reads it). Jobs outside the user's projects
count and keep their place, but show neither name nor owner; their users' shares are summed as
"other projects"."""
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import scheduler
from ..access import jobs_for, projects_for
from ..models import Job
from ..usage import day_shares
from .serializers import _iso

OTHERS = "other projects"


def _job(row: dict, visible: set[int], **extra) -> dict:
    seen = row["id"] in visible
    return {"id": row["id"] if seen else None, "name": row["name"] if seen else "",
            "owner": row["owner__username"] if seen else None, "kind": row["kind"] if seen else None,
            "priority": row["priority"], **extra}


@extend_schema(tags=["workers"], responses=inline_serializer("Queue", many=True, fields={
    "queue": serializers.CharField(), "slots": serializers.IntegerField(),
    "workers": serializers.ListField(child=serializers.CharField()),
    "running": serializers.ListField(child=serializers.DictField()),
    "waiting": serializers.ListField(child=serializers.DictField()), "waiting_count": serializers.IntegerField(),
    "shares": serializers.ListField(child=serializers.DictField())}))
class QueueView(APIView):
    def get(self, request):
        user = request.user
        state, positions = scheduler.ranked()
        cols = ("id", "name", "kind", "owner__username", "queue", "priority", "status", "started_at", "worker",
                "created_at", "admitted_at")
        # the running jobs and the ranked waiting ones: not every waiting job (there may be 10,000)
        active = list(Job.objects.filter(Q(status=Job.Status.RUNNING) | Q(pk__in=list(positions))).values(*cols))
        counts = dict(Job.objects.filter(status=Job.Status.QUEUED, admitted_at__isnull=True, held=False,
                                         cancel_requested=False).values_list("queue").annotate(n=Count("id")))
        visible = set(jobs_for(user).filter(pk__in=[r["id"] for r in active]).values_list("id", flat=True))
        mates = set(get_user_model().objects.filter(memberships__project__in=projects_for(user))
                    .values_list("username", flat=True)) | {user.get_username()}
        queues = {q for w in state.workers for q in w.queues} | {r["queue"] for r in active} | set(counts)
        out = []
        for q in sorted(queues):
            running = sorted((r for r in active if r["queue"] == q and r["status"] == Job.Status.RUNNING),
                             key=lambda r: r["started_at"])
            waiting = sorted((r for r in active if r["queue"] == q and r["id"] in positions),
                             key=lambda r: positions[r["id"]][0])
            shares, others = [], {"user": OTHERS, "seconds": 0.0, "share": 0.0}
            for s in day_shares(q):
                if user.is_staff or s["user"] in mates:
                    shares.append(s)
                else:
                    others["seconds"] += s["seconds"]
                    others["share"] += s["share"]
            if others["seconds"]:
                shares.append(others)
            out.append({
                "queue": q,
                "workers": sorted(w.name for w in state.workers if q in w.queues),
                "slots": sum(w.slots for w in state.workers if q in w.queues),
                "running": [_job(r, visible, worker=r["worker"], started_at=_iso(r["started_at"])) for r in running],
                "waiting": [_job(r, visible, queue_position=positions[r["id"]][0],
                                 waiting_reason=positions[r["id"]][1], created_at=_iso(r["created_at"]))
                            for r in waiting],
                # every waiting job of the queue; the list has the first LAB_QUEUE_LIVE_POSITIONS
                "waiting_count": counts.get(q, 0),
                "shares": shares,
            })
        return Response(out)



