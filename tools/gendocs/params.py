"""A kind's params JSON Schema (what `/api/job-kinds/` serves) as markdown tables.

Generic over what pydantic writes: objects with `properties`, `$ref` into `$defs`, `anyOf` with null
(an optional field), `oneOf` / `anyOf` of objects (a union, with or without a `discriminator`), also at
the root, and the lab's own keys `x-when` (where a field applies), `x-advanced` and `x-presets`.

The root object gets one table; each object type it refers to gets one table of its own below it,
once, however many fields use it. In a root union the fields of all variants share one table, and a
field that only some variants have says for which values of the discriminator it applies.
"""
from __future__ import annotations

import json
from typing import get_args

from pydantic import BaseModel

from ml.params import ADVANCED, PRESETS, WHEN
from tools.gendocs.cells import default_cell, one_of, text, value_range

COLUMNS = ("name", "type", "default", "range", "applies when", "description")
REQUIRED = "required"


def render(schema: dict, factory_defaults: dict | None = None) -> str:
    """All tables of one schema: the root's fields first, then each object type used, in order of use.

    `factory_defaults` ({type name: {field: value}}, from `defaults_of`) fills the defaults pydantic
    leaves out of a JSON schema: those made by a `default_factory`."""
    doc = _Doc(schema, factory_defaults or {})
    root = doc.resolve(schema)
    variants = doc.objects(root)
    out = []
    if len(variants) > 1:
        out.append(_table(doc, _merged_rows(doc, root, variants)))
    else:
        out.append(_table(doc, _rows(doc, variants[0])))
    done = set()
    while doc.pending:
        name = doc.pending.pop(0)
        if name in done:
            continue
        done.add(name)
        node = doc.defs[name]
        used = ", ".join(f"`{u}`" for u in doc.used_by[name])
        head = f"**`{name}`** (in {used})"
        if node.get("description"):
            head += ": " + text(node["description"])
        out.append(head + "\n\n" + _table(doc, _rows(doc, node)))
    presets = _presets([schema, *variants])
    if presets:
        out.append(presets)
    return "\n\n".join(out)


class _Doc:
    def __init__(self, schema, factory_defaults):
        self.defs = schema.get("$defs", {})
        self.factory = factory_defaults
        self.pending: list[str] = []   # object types met but not yet given their table
        self.used_by: dict[str, list[str]] = {}

    def resolve(self, node):
        while "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            node = {**self.defs[ref], **{k: v for k, v in node.items() if k != "$ref"}, "_def": ref}
        return node

    def objects(self, node) -> list[dict]:
        """The object schemas a node may be: itself, or each member of its union."""
        node = self.resolve(node)
        members = node.get("oneOf") or node.get("anyOf")
        if members:
            return [o for m in members for o in self.objects(m)]
        return [node] if "properties" in node else []

    def mention(self, def_name, field):
        self.used_by.setdefault(def_name, [])
        if field not in self.used_by[def_name]:
            self.used_by[def_name].append(field)
        if def_name not in self.pending:
            self.pending.append(def_name)


def _rows(doc, obj) -> list[dict]:
    required = set(obj.get("required", []))
    made = doc.factory.get(obj.get("_def") or obj.get("title"), {})
    keys = {k for prop in obj["properties"].values() for k in (prop.get(WHEN) or {})}
    universe = {k: _values(doc, obj["properties"][k]) for k in keys if k in obj["properties"]}
    return [_row(doc, name, {"default": made[name], **prop} if name in made else prop, name in required, universe)
            for name, prop in obj["properties"].items()]


def _merged_rows(doc, root, variants) -> list[dict]:
    """The fields of all variants of a root union in one table. A field alike in every variant that has it
    is one row; one that differs (its default, type or text) is a row per version. Each row says for which
    values of the discriminator it applies, where that is not all of them."""
    key = (root.get("discriminator") or {}).get("propertyName") or _common_const(variants)
    tags = [_tags(v["properties"].get(key, {})) if key else [v.get("_def", v.get("title", "?"))] for v in variants]
    every = list(dict.fromkeys(t for ts in tags for t in ts))
    versions: dict[str, dict] = {}  # name -> {what the row says: (row, tags)}
    for variant, vtags in zip(variants, tags):
        for row in _rows(doc, variant):
            same = (row["label"], row["type"], row["default"], row["range"], row["description"], row["when"])
            row_tags = versions.setdefault(row["name"], {}).setdefault(same, (row, []))[1]
            row_tags += vtags
    out = []
    for name, rows in versions.items():
        if name == key:
            first = next(iter(rows.values()))[0]
            defaults = [r["default"] for r, _ in rows.values() if r["default"] not in (REQUIRED, "null")]
            out.append({**first, "type": one_of(every), "description": text(root.get("description", ""))
                        or first["description"], "default": defaults[0] if len(defaults) == 1 else REQUIRED})
            continue
        for row, row_tags in rows.values():
            out.append({**row, "when": _condition(row, key, row_tags, every)})
    return out


def _condition(row, key, row_tags, every) -> str:
    """Where a field of a root union applies: its own `x-when` and the variants that have it, together."""
    rule = {k: list(v) for k, v in (row.get("_rule") or {}).items()}
    if key and set(row_tags) != set(every):
        rule[key] = [t for t in rule.get(key, row_tags) if t in row_tags]
    return _when(rule, {**(row.get("_universe") or {}), key: every})


def _when(rule, universe=None) -> str:
    """`objective: a, b`, or `sampler: not c` where naming what is left out is shorter."""
    parts = []
    for key, allowed in rule.items():
        values = (universe or {}).get(key) or []
        left_out = [v for v in values if v not in allowed]
        if values and len(left_out) < len(allowed):
            parts.append(f"{key}: not " + ", ".join(f"`{_show(v)}`" for v in left_out))
        else:
            parts.append(f"{key}: " + ", ".join(f"`{_show(v)}`" for v in allowed))
    return "; ".join(parts)


def _show(v) -> str:
    return "null" if v is None else str(v)


def _values(doc, prop) -> list:
    """The values a sibling field can take, if it is a choice (for `not ...` in "applies when")."""
    node = doc.resolve(prop)
    out = []
    for m in node.get("anyOf") or node.get("oneOf") or [node]:
        m = doc.resolve(m)
        out += [m["const"]] if "const" in m else list(m.get("enum", [])) or ([None] if m.get("type") == "null" else [])
    return out


def defaults_of(model) -> dict:
    """{type name: {field: default}} for every pydantic model reachable from `model` (a class, a type
    such as a union of classes, or a class standing for a union with its classes in `branches`) whose
    fields have a `default_factory`: the JSON schema has no default for those."""
    out, seen, todo = {}, set(), [model]
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if not (isinstance(t, type) and issubclass(t, BaseModel)):
            todo += [*get_args(t), *getattr(t, "branches", ())]  # Union, Annotated, list[...]: look inside
            continue
        made = {name: info.get_default(call_default_factory=True) for name, info in t.model_fields.items()
                if info.default_factory is not None}
        if made:
            out[t.model_config.get("title") or t.__name__] = {
                k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in made.items()}
        todo += [info.annotation for info in t.model_fields.values()]
    return out


def _common_const(variants):
    """A union without a declared discriminator: the property every variant pins to constants."""
    for name in variants[0]["properties"]:
        if all(_tags(v["properties"].get(name, {})) for v in variants):
            return name
    return None


def _tags(prop) -> list:
    if "const" in prop:
        return [prop["const"]]
    return list(prop.get("enum", [])) if len(prop.get("enum", [])) else []


def _row(doc, name, prop, required, universe=None) -> dict:
    node = doc.resolve(prop)
    typ = _type(doc, node, name)
    default = default_cell(prop) if "default" in prop else (REQUIRED if required else "null")
    if isinstance(prop.get("default"), dict):
        default = _object_default(doc, node, prop["default"]) or default
    label = f"`{name}`" + (" (advanced)" if prop.get(ADVANCED) else "")
    return {"name": name, "label": label, "type": typ, "default": default, "range": value_range(node),
            "when": _when(prop.get(WHEN) or {}, universe), "_rule": prop.get(WHEN), "_universe": universe,
            "description": text(prop.get("description") or node.get("description") or "")}


def _object_default(doc, node, value) -> str:
    """An object default that is all of its type's own defaults, said so (or by its tag), not spelled out."""
    for obj in doc.objects(node):
        own = {k: p.get("default") for k, p in obj["properties"].items()}
        own.update(doc.factory.get(obj.get("_def"), {}))
        if own == value:
            tag = next((k for k, p in obj["properties"].items() if "const" in p), None)
            if tag:
                return f'`{{"{tag}": {json.dumps(value[tag])}}}`'
            return f"defaults of `{obj.get('_def', obj.get('title'))}`"
    return ""


def _type(doc, node, field) -> str:
    node = doc.resolve(node)
    if "_def" in node and "properties" in node:
        doc.mention(node["_def"], field)
        return f"`{node['_def']}`"
    members = node.get("oneOf") or node.get("anyOf")
    if members:
        parts = [_type(doc, m, field) for m in members if m.get("type") != "null"]
        nullable = len(parts) < len(members)
        return " or ".join(dict.fromkeys(parts)) + (" or null" if nullable else "")
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return one_of(node["enum"])
    typ = node.get("type")
    if typ == "array":
        items = node.get("items")
        return "list of " + (_type(doc, items, field) if items else "any")
    if typ == "object":
        extra = node.get("additionalProperties")
        return "map to " + _type(doc, extra, field) if isinstance(extra, dict) else "object"
    return {"integer": "int", "number": "float", "boolean": "bool", "string": "string", "null": "null"}.get(typ, "any")


def _presets(objects) -> str:
    """The named examples (`x-presets`) of the root, or of each variant of a root union."""
    presets = {name: params for obj in objects for name, params in (obj.get(PRESETS) or {}).items()}
    if not presets:
        return ""
    lines = ["Presets (the form's examples; each is complete params):", ""]
    for name, params in presets.items():
        lines.append(f"- **{name}**: `{json.dumps(params, separators=(', ', ': '))}`")
    return "\n".join(lines)


def _table(doc, rows) -> str:
    # "applies when" only where some field has a condition: the other tables stay narrow
    cols = [c for c in COLUMNS if c != "applies when" or any(r["when"] for r in rows)]
    key = {"name": "label", "applies when": "when"}
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    body = ["| " + " | ".join(r[key.get(c, c)] for c in cols) + " |" for r in rows]
    return "\n".join([head, *body])
