"""NUL characters: PostgreSQL refuses them in text and jsonb, so one that reaches a query or a
stored job is a 500. Refused at the door instead, with a 400 naming the field."""
from __future__ import annotations

from django.http import JsonResponse

NUL = "\x00"
MESSAGE = "contains a NUL character"


def nul_field(query) -> str | None:
    """The first field of a QueryDict whose name or a value holds a NUL."""
    for key, values in query.lists():
        if NUL in key or any(NUL in v for v in values):
            return key
    return None


def nul_path(obj, prefix: str = "", depth: int = 0) -> str | None:
    """The dotted path ("data.type", "skip.0") of the first key or string holding a NUL in parsed
    JSON; "" for the top level. Nesting past 64 levels is the schema's to refuse."""
    if isinstance(obj, str):
        return prefix if NUL in obj else None
    if depth > 64:
        return None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(key, str) and NUL in key:
            return path
        found = nul_path(value, path, depth + 1)
        if found is not None:
            return found
    return None


class RefuseNulQuery:
    """Middleware: a query string with a NUL is a 400 naming the field, for every page and endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field = nul_field(request.GET)
        if field is not None:
            return JsonResponse({field: [MESSAGE]}, status=400)
        return self.get_response(request)
