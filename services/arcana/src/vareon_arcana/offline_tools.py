"""The offline model's tool calls: deterministic, so a platform without any provider key can
show the whole tool loop (docs/openai-api.md, "The offline model and tools").

It calls a tool when ``tool_choice`` asks for one (``required``: the first tool; a named
function: that one) or, with ``auto`` (the default), when the last message is not a tool
result; so call, result, text. ``none`` is text. The arguments are built from the tool's JSON
schema: every required property gets a typed placeholder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

PLACEHOLDERS: dict[str, Any] = {
    "string": "string",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "null": None,
}
MAX_DEPTH = 8


def placeholder(schema: object, depth: int = 0) -> Any:
    """``default``, ``const`` or the first ``enum`` value if given; else by type: strings
    ``"string"``, numbers ``minimum`` or 0, booleans false, arrays ``minItems`` placeholders of
    ``items``, objects their required properties; ``anyOf``/``oneOf`` the first branch."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    for given in ("default", "const"):
        if given in schema:
            return schema[given]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for union in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(union), list) and schema[union]:
            return placeholder(schema[union][0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return arguments(schema, depth + 1)
    if kind == "array":
        count = schema.get("minItems", 0)
        item = placeholder(schema.get("items", {"type": "string"}), depth + 1)
        return [item] * count if isinstance(count, int) and 0 <= count <= 16 else []
    if kind in ("integer", "number") and isinstance(schema.get("minimum"), int | float):
        return schema["minimum"]
    return PLACEHOLDERS.get(kind) if isinstance(kind, str) else None


def arguments(schema: object, depth: int = 0) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return {n: placeholder(properties.get(n, {}), depth) for n in names}


def chosen(
    tools: Sequence[dict[str, Any]], choice: str | dict[str, Any] | None, last_role: str
) -> dict[str, Any] | None:
    """The function definition the offline model calls, or None for a text answer."""
    functions = [t["function"] for t in tools if t.get("type") == "function"]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        return next((f for f in functions if f["name"] == name), None)
    if choice == "required" or last_role != "tool":
        return functions[0]
    return None


def call(function: dict[str, Any], messages: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """(id, name, arguments JSON); ids count the history's tool calls, so each is new."""
    made = sum(len(m.get("tool_calls") or ()) for m in messages)
    args = json.dumps(arguments(function.get("parameters")))
    return f"call_offline_{made}", function["name"], args
