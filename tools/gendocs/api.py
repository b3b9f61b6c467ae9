"""The REST endpoints and their objects, from the app's OpenAPI schema (the one `/api/schema/` serves)."""
from __future__ import annotations

import os

OBJECTS = ("Job", "Event", "Artifact", "JobKind", "Worker")


def openapi() -> dict:
    import django
    from django.conf import settings

    if not settings.configured:
        # the schema is built from the code alone: no database or broker is contacted
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.local")
        os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def render() -> str:
    schema = openapi()
    rows = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            query = ", ".join(f"`{p['name']}`" for p in op.get("parameters", []) if p["in"] == "query")
            body = _ref(op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
            answers = ", ".join(f"{code}" + (f" {_ref(_json(r))}" if _ref(_json(r)) else "")
                                for code, r in op["responses"].items())
            rows.append(f"| `{method.upper()} {path}` | {query} | {body} | {answers} |")
    out = ["| endpoint | query | body | answers |", "|---|---|---|---|", *rows, ""]
    components = schema["components"]["schemas"]
    for name in OBJECTS:
        if name in components:
            fields = ", ".join(f"`{k}`" for k in components[name].get("properties", {}))
            out.append(f"- {name}: {fields}")
    return "\n".join(out)


def _json(response):
    return response.get("content", {}).get("application/json", {}).get("schema")


def _ref(schema) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        inner = _ref(schema.get("items"))
        return f"[{inner}]" if inner else "list"
    return ""
