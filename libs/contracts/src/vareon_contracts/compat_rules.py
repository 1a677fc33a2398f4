"""Is a new JSON Schema of an event version backward compatible with the committed one?

The payload models are open (``extra="ignore"``): unknown fields are ignored by readers, so
adding an optional field is safe. The new schema must accept every message the old one
accepted (so history replays and nothing already written becomes unreadable), must keep every
field (so a reader of the old schema still finds what it reads), and must stay on the same
topic with the same key. docs/contracts.md states the rules; the rule ids below appear in
every message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RULES = {
    "no-removed-field": "a field of an existing version is never removed or renamed",
    "no-type-change": "a field keeps its type (integer may widen to number)",
    "no-narrowing": "a field accepts at least what it accepted: no new bound, format, "
    "pattern, enum restriction, lost null, or closed object",
    "no-new-required-field": "a new field has a default (is optional)",
    "no-field-made-required": "an optional field never becomes required",
    "no-removed-enum-value": "an enum (or const) keeps every value it had",
    "no-topic-change": "a version stays on its topic",
    "no-key-change": "a version keeps its Kafka key field",
}

_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(frozen=True)
class Breach:
    path: str
    """Dotted field path; ``[]`` marks array items, ``{}`` dict values, "" the payload."""
    rule: str
    detail: str

    def describe(self) -> str:
        return f"field '{self.path}' {self.detail}" if self.path else self.detail


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Breach]:
    """Every way in which ``new`` breaks readers and messages of ``old``."""
    breaches = []
    for attr, rule, what in (
        ("x-topic", "no-topic-change", "topic"),
        ("x-key", "no-key-change", "key field"),
    ):
        if old.get(attr) != new.get(attr):
            breaches.append(
                Breach("", rule, f"{what} changed from {old.get(attr)!r} to {new.get(attr)!r}")
            )
    return breaches + _Comparison(old, new).schema(old, new, "")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_of(branch: dict[str, Any]) -> str:
    if "type" in branch:
        return branch["type"]
    values = _values(branch)
    return _JSON_TYPES.get(type(values[0]), "any") if values else "any"


def _values(branch: dict[str, Any]) -> list[Any] | None:
    if "const" in branch:
        return [branch["const"]]
    return list(branch["enum"]) if "enum" in branch else None


def _required(schema: dict[str, Any]) -> set[str]:
    """Fields a message must carry: required and without a default to fall back on."""
    props = schema.get("properties", {})
    return {n for n in schema.get("required", []) if "default" not in props.get(n, {})}


class _Comparison:
    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.roots = (old_root, new_root)
        self.active: set[tuple[str, str]] = set()

    def _resolve(self, schema: Any, root: dict[str, Any]) -> dict[str, Any]:
        if schema is True:
            return {}
        while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/"):
            target: Any = root
            for part in schema["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def _branches(self, schema: Any, root: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self._resolve(schema, root)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return [b for sub in schema[key] for b in self._branches(sub, root)]
        if isinstance(schema.get("type"), list):
            return [{**schema, "type": t} for t in schema["type"]]
        values = _values(schema)
        if "type" not in schema and values:
            kinds = {_JSON_TYPES.get(type(v), "any") for v in values}
            return [
                {"type": k, "enum": [v for v in values if _JSON_TYPES.get(type(v)) == k]}
                for k in sorted(kinds)
            ]
        return [schema]

    def schema(self, old: Any, new: Any, path: str) -> list[Breach]:
        refs = (
            str(old.get("$ref")) if isinstance(old, dict) else "",
            str(new.get("$ref")) if isinstance(new, dict) else "",
        )
        if refs in self.active:
            return []  # a recursive model: this pair is already being compared further up
        if refs[0] != "None":
            self.active.add(refs)
        try:
            old_bs = self._branches(old, self.roots[0])
            new_bs = self._branches(new, self.roots[1])
            if any(_type_of(b) == "any" and _values(b) is None for b in new_bs):
                return []
            out = [b for ob in old_bs for b in self._branch_breaches(ob, new_bs, path)]
            return list(dict.fromkeys(out))
        finally:
            self.active.discard(refs)

    def _branch_breaches(
        self, ob: dict[str, Any], new_bs: list[dict[str, Any]], path: str
    ) -> list[Breach]:
        old_t = _type_of(ob)
        same = [
            nb
            for nb in new_bs
            if _type_of(nb) == old_t or (old_t == "integer" and _type_of(nb) == "number")
        ]
        if not same:
            new_ts = " | ".join(sorted({_type_of(b) for b in new_bs}))
            if old_t == "null":
                return [Breach(path, "no-narrowing", "no longer accepts null")]
            if old_t == "any":
                return [Breach(path, "no-narrowing", f"was unrestricted, is now {new_ts}")]
            if old_t == "number" and "integer" in new_ts:
                return [Breach(path, "no-narrowing", "narrowed from number to integer")]
            return [Breach(path, "no-type-change", f"changed type from {old_t} to {new_ts}")]
        results = [self._same_type(ob, nb, path) for nb in same]
        return [] if any(not r for r in results) else min(results, key=len)

    def _same_type(self, ob: dict[str, Any], nb: dict[str, Any], path: str) -> list[Breach]:
        old_vals, new_vals = _values(ob), _values(nb)
        if new_vals is not None:
            if old_vals is None:
                return [Breach(path, "no-narrowing", f"is now restricted to {new_vals}")]
            removed = [v for v in old_vals if v not in new_vals]
            return (
                [Breach(path, "no-removed-enum-value", f"lost enum value(s) {removed}")]
                if removed
                else []
            )
        out = self._constraints(ob, nb, path)
        kind = _type_of(ob)
        if kind == "array":
            out += self._array(ob, nb, path)
        elif kind == "object":
            out += self._object(ob, nb, path)
        return out

    def _constraints(self, ob: dict[str, Any], nb: dict[str, Any], path: str) -> list[Breach]:
        out = []
        if nb.get("format") is not None and nb.get("format") != ob.get("format"):
            was = ob.get("format")
            out.append(
                Breach(
                    path,
                    "no-type-change" if was else "no-narrowing",
                    f"format changed from {was or 'none'} to {nb['format']}",
                )
            )
        for keys, tighter in ((_LOWER, lambda o, n: n > o), (_UPPER, lambda o, n: n < o)):
            for kw in keys:
                o, n = ob.get(kw), nb.get(kw)
                if n is not None and (o is None or tighter(o, n)):
                    what = f"gained {kw} {n}" if o is None else f"{kw} tightened from {o} to {n}"
                    out.append(Breach(path, "no-narrowing", what))
        if nb.get("pattern") and nb.get("pattern") != ob.get("pattern"):
            out.append(Breach(path, "no-narrowing", f"pattern changed to {nb['pattern']!r}"))
        o, n = ob.get("multipleOf"), nb.get("multipleOf")
        if n is not None and (o is None or (o / n) != int(o / n)):
            out.append(Breach(path, "no-narrowing", f"multipleOf changed from {o} to {n}"))
        if nb.get("uniqueItems") and not ob.get("uniqueItems"):
            out.append(Breach(path, "no-narrowing", "now requires unique items"))
        return out

    def _array(self, ob: dict[str, Any], nb: dict[str, Any], path: str) -> list[Breach]:
        out = []
        old_p, new_p = ob.get("prefixItems", []), nb.get("prefixItems", [])
        if len(old_p) != len(new_p):
            out.append(
                Breach(
                    path,
                    "no-type-change",
                    f"tuple length changed from {len(old_p)} to {len(new_p)}",
                )
            )
        for i, (o, n) in enumerate(zip(old_p, new_p, strict=False)):
            out += self.schema(o, n, f"{path}[{i}]")
        if "items" in ob or "items" in nb:
            out += self.schema(ob.get("items", {}), nb.get("items", {}), f"{path}[]")
        return out

    def _object(self, ob: dict[str, Any], nb: dict[str, Any], path: str) -> list[Breach]:
        out = []
        old_props, new_props = ob.get("properties", {}), nb.get("properties", {})
        old_req, new_req = _required(ob), _required(nb)
        for name, old_schema in old_props.items():
            field = _join(path, name)
            if name not in new_props:
                out.append(Breach(field, "no-removed-field", "was removed"))
                continue
            if name in new_req and name not in old_req:
                out.append(Breach(field, "no-field-made-required", "became required"))
            out += self.schema(old_schema, new_props[name], field)
        for name in new_props.keys() - old_props.keys():
            if name in new_req:
                out.append(
                    Breach(_join(path, name), "no-new-required-field", "is new and required")
                )
        old_extra, new_extra = (
            ob.get("additionalProperties", True),
            nb.get("additionalProperties", True),
        )
        if new_extra is False and old_extra is not False:
            what = "became a closed object" if path else "the payload became a closed object"
            out.append(Breach(path, "no-narrowing", f"{what} (additionalProperties: false)"))
        elif isinstance(new_extra, dict) and new_extra:
            out += self.schema(
                old_extra if isinstance(old_extra, dict) else {}, new_extra, f"{path}{{}}"
            )
        return out
