"""A self-contained, human-readable page of an AsyncAPI 3 document (no scripts, no CDN)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#1d2330}
h1{margin-bottom:0}h2{border-bottom:2px solid #dde;padding-bottom:.2rem;margin-top:2.5rem}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f6fa;padding:.8rem;overflow:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #dde;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f2f8}.muted{color:#667}.tag{background:#e8ecfa;border-radius:4px;
padding:0 .35rem;margin-right:.25rem}section.msg{margin:1.2rem 0 2rem}
"""


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
        target: Any = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def type_label(doc: dict[str, Any], schema: Any) -> str:
    if isinstance(schema, dict) and "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    schema = _resolve(doc, schema) if isinstance(schema, dict) else {}
    if "anyOf" in schema or "oneOf" in schema:
        return " | ".join(type_label(doc, s) for s in schema.get("anyOf", schema.get("oneOf")))
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_label(doc, schema.get('items', {}))}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _fields(doc: dict[str, Any], schema: Any) -> str:
    schema = _resolve(doc, schema)
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(type_label(doc, sub))}</td>"
        f"<td>{'yes' if name in required else 'no'}</td>"
        f"<td>{escape(str(_resolve(doc, sub).get('description', '')))}</td></tr>"
        for name, sub in schema.get("properties", {}).items()
    )
    return (
        f"<table><tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>{rows}</table>"
    )


def _roles(doc: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """message ref -> {"send": [services], "receive": [services]} from the operations."""
    roles: dict[str, dict[str, list[str]]] = {}
    for operation in doc.get("operations", {}).values():
        services = [t["name"] for t in operation.get("tags", [])]
        for ref in operation.get("messages", []):
            name = ref["$ref"].rsplit("/", 1)[-1]
            roles.setdefault(name, {"send": [], "receive": []})[operation["action"]] += services
    return roles


def render_asyncapi_html(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    roles = _roles(doc)
    parts = [
        f"<h1>{escape(info.get('title', 'AsyncAPI'))}</h1>",
        f"<p class=muted>AsyncAPI {escape(doc.get('asyncapi', ''))} · version "
        f"{escape(info.get('version', ''))}</p><p>{escape(info.get('description', ''))}</p>",
        "<ul>",
    ]
    parts += [
        f"<li><a href='#{escape(cid)}'>{escape(ch.get('address', cid))}</a></li>"
        for cid, ch in doc.get("channels", {}).items()
    ]
    parts.append("</ul>")
    for cid, channel in doc.get("channels", {}).items():
        parts.append(
            f"<h2 id='{escape(cid)}'>Topic <code>{escape(channel.get('address', cid))}"
            f"</code></h2><p>{escape(channel.get('description', ''))}</p>"
        )
        for name, ref in channel.get("messages", {}).items():
            message = _resolve(doc, ref)
            role = roles.get(name, {"send": [], "receive": []})
            key = message.get("bindings", {}).get("kafka", {}).get("key", {})
            producers = "".join(f"<span class=tag>{escape(s)}</span>" for s in role["send"])
            consumers = (
                "".join(f"<span class=tag>{escape(s)}</span>" for s in sorted(set(role["receive"])))
                or "none yet"
            )
            parts.append(
                f"<section class=msg><h3><code>{escape(message.get('name', name))}</code></h3>"
                f"<p>{escape(message.get('summary', ''))}</p>"
                f"<p>Produced by {producers or 'nobody'} · consumed by {consumers} · key "
                f"<code>{escape(type_label(doc, key))}</code></p>"
                f"{_fields(doc, message.get('payload', {}))}"
                f"<details><summary>headers</summary>{_fields(doc, message.get('headers', {}))}"
                f"</details><details><summary>payload JSON Schema</summary><pre>"
                f"{escape(json.dumps(_resolve(doc, message.get('payload')), indent=2))}"
                f"</pre></details></section>"
            )
    title = escape(info.get("title", "AsyncAPI"))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
