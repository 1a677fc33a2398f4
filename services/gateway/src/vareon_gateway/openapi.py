"""One API document: every service's public operations (the paths the edge routes to it)
plus the gateway's own, merged from the services' own /openapi.json.

Components are namespaced per service (``wallet__Balance``) so names never collide, and
every ``$ref`` is rewritten to match; operation ids get the service as prefix. Security is
the edge's: a bearer token (or Swagger's password flow against identity's /auth/token) on
every route the edge protects, none on public ones. Documents are fetched again at most
every ``ttl_s`` when asked for; the merge is redone only when a document's hash changed; a
service that does not answer keeps its last known document (``x-vareon-services`` says so).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx

from vareon_gateway import upstreams

COMPONENT_KINDS = ("schemas", "responses", "parameters", "examples", "requestBodies", "headers")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /api/v1/auth/login (or /auth/token).",
    },
    "password": {
        "type": "oauth2",
        "description": "Sign in with email and password; Swagger UI then sends the token.",
        "flows": {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
    },
}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"password": []}]


def _rename(node: Any, refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: refs.get(v, v) if k == "$ref" and isinstance(v, str) else _rename(v, refs)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rename(v, refs) for v in node]
    return node


def namespaced(service: str, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths the edge sends to ``service``, their components), names prefixed."""
    components = doc.get("components") or {}
    refs = {
        f"#/components/{kind}/{name}": f"#/components/{kind}/{service}__{name}"
        for kind in COMPONENT_KINDS
        for name in components.get(kind) or {}
    }
    paths: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        route = upstreams.resolve(path)
        if route is None or route.service != service:
            continue
        item = _rename(item, refs)
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if "operationId" in operation:
                operation["operationId"] = f"{service}__{operation['operationId']}"
            operation.setdefault("tags", [service])
            if route.public:
                operation.pop("security", None)
            else:
                operation["security"] = BEARER
        paths[path] = item
    merged = {
        kind: {f"{service}__{name}": _rename(value, refs) for name, value in entries.items()}
        for kind in COMPONENT_KINDS
        if (entries := components.get(kind))
    }
    return paths, merged


def merge(
    own: dict[str, Any], docs: dict[str, dict[str, Any]], state: dict[str, Any]
) -> dict[str, Any]:
    paths, components = namespaced_own(own)
    for service, doc in docs.items():
        service_paths, service_components = namespaced(service, doc)
        paths.update(service_paths)
        for kind, entries in service_components.items():
            components.setdefault(kind, {}).update(entries)
    components["securitySchemes"] = SECURITY_SCHEMES
    return {
        "openapi": own.get("openapi", "3.1.0"),
        "info": {
            "title": "Vareon API",
            "version": own.get("info", {}).get("version", "0"),
            "description": "Every operation of every Vareon service, through the gateway.",
        },
        "paths": dict(sorted(paths.items())),
        "components": components,
        "x-vareon-services": state,
    }


def namespaced_own(own: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    components = own.get("components") or {}
    refs = {
        f"#/components/{kind}/{name}": f"#/components/{kind}/gateway__{name}"
        for kind in COMPONENT_KINDS
        for name in components.get(kind) or {}
    }
    paths = _rename(own.get("paths") or {}, refs)
    merged = {
        kind: {f"gateway__{name}": _rename(value, refs) for name, value in entries.items()}
        for kind in COMPONENT_KINDS
        if (entries := components.get(kind))
    }
    return paths, merged


class ApiDocument:
    def __init__(self, ttl_s: float, timeout_s: float) -> None:
        self.ttl_s, self.timeout_s = ttl_s, timeout_s
        self._docs: dict[str, dict[str, Any]] = {}
        self._hashes: dict[str, str] = {}
        self._state: dict[str, Any] = {}
        self._merged: bytes | None = None
        self._checked_at = -float("inf")
        self._lock = asyncio.Lock()

    async def _fetch(self, client: httpx.AsyncClient, base_url: str) -> bytes | None:
        try:
            response = await client.get(f"{base_url}/openapi.json", timeout=self.timeout_s)
        except httpx.HTTPError:
            return None
        return response.content if response.status_code == 200 else None

    async def get(
        self, client: httpx.AsyncClient, upstreams: dict[str, str], own: dict[str, Any]
    ) -> bytes:
        if self._merged is not None and time.monotonic() - self._checked_at < self.ttl_s:
            return self._merged
        async with self._lock:
            if self._merged is not None and time.monotonic() - self._checked_at < self.ttl_s:
                return self._merged
            names = list(upstreams)
            bodies = await asyncio.gather(*(self._fetch(client, upstreams[n]) for n in names))
            changed = self._merged is None
            for name, body in zip(names, bodies, strict=True):
                if body is None:
                    self._state[name] = {
                        "status": "last-known" if name in self._docs else "unavailable",
                        "version": self._state.get(name, {}).get("version"),
                    }
                    changed = True
                    continue
                digest = hashlib.sha256(body).hexdigest()
                if self._hashes.get(name) != digest:
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        continue
                    self._docs[name], self._hashes[name] = doc, digest
                    changed = True
                version = self._docs[name].get("info", {}).get("version")
                if self._state.get(name) != {"status": "current", "version": version}:
                    self._state[name] = {"status": "current", "version": version}
                    changed = True
            if changed:
                docs = {n: self._docs[n] for n in names if n in self._docs}
                self._merged = json.dumps(merge(own, docs, dict(self._state))).encode()
            self._checked_at = time.monotonic()
            assert self._merged is not None
            return self._merged
