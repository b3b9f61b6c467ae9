from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(job):
    """Run time of a job: finished - started, or so far while it runs ("3m 05s")."""
    if not job.started_at:
        return ""
    end = job.finished_at or timezone.now()
    s = max(0, int((end - job.started_at).total_seconds()))
    h, m, r = s // 3600, s % 3600 // 60, s % 60
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {r:02d}s"
    return f"{r}s"


@register.filter
def percent(progress):
    return f"{round(100 * (progress or 0))}%"


@register.filter
def show(value):
    """A params/result value for a table cell."""
    if value is None:
        return "—"
    if isinstance(value, float):
        a = abs(value)
        return f"{value:.3e}" if a and (a < 1e-3 or a >= 1e6) else f"{value:.5g}"
    if isinstance(value, (list, dict)):
        import json
        text = json.dumps(value)
        return text if len(text) <= 200 else text[:197] + "..."
    return str(value)
