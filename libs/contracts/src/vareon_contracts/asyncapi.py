"""The platform's AsyncAPI 3.0 document, built from CATALOGUE and SERVICES.

Channels are Kafka topics, messages are event types (CloudEvents binary mode: ``ce_*``
headers, JSON payload), operations are each service's sends and receives. The gateway serves
``build_asyncapi()`` at /asyncapi (and ``render_asyncapi_html`` for people).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from vareon_contracts.asyncapi_html import render_asyncapi_html
from vareon_contracts.catalogue import CATALOGUE, EventPayload
from vareon_contracts.envelope import CONTENT_TYPE, SCHEMA_BASE, SPEC_VERSION
from vareon_contracts.schemas import schema_for
from vareon_contracts.services import SERVICES, ServiceContract

__all__ = ["build_asyncapi", "render_asyncapi_html"]

KAFKA_BINDING = "0.5.0"
_COMPONENT = "#/components/schemas/"


def _version() -> str:
    try:
        return metadata.version("vareon-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0.0.0"


def _payload(model: type[EventPayload], schemas: dict[str, Any]) -> dict[str, Any]:
    """The payload schema, its $defs moved to components (prefixed by the event type)."""
    schema = schema_for(model)
    schema.pop("$id", None)
    prefix = f"{model.event_type}."
    for name, sub in schema.pop("$defs", {}).items():
        schemas[prefix + name] = sub

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    _COMPONENT + prefix + v.removeprefix("#/$defs/")
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                    else relink(v)
                )
                for k, v in node.items()
            }
        return [relink(v) for v in node] if isinstance(node, list) else node

    for name in [n for n in schemas if n.startswith(prefix)]:
        schemas[name] = relink(schemas[name])
    schemas[model.event_type] = relink(schema)
    return schema


def _headers(event_type: str) -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary mode.",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPEC_VERSION},
            "ce_id": {**text, "description": "Unique per event; consumers deduplicate on it."},
            "ce_source": {**text, "description": "The producing service, e.g. vareon-identity."},
            "ce_type": {"type": "string", "const": event_type},
            "ce_subject": {**text, "description": "The Kafka key (the aggregate id)."},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_dataschema": {"type": "string", "const": f"{SCHEMA_BASE}{event_type}.json"},
            "ce_correlationid": {**text, "description": "The request that started the flow."},
            "ce_causationid": {**text, "description": "The event that caused this one."},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
        },
    }


def _message(model: type[EventPayload], payload: dict[str, Any]) -> dict[str, Any]:
    key = copy.deepcopy(payload.get("properties", {}).get(model.key_field, {"type": "string"}))
    key.pop("title", None)
    key["description"] = f"The aggregate id: the payload's {model.key_field}."
    message = {
        "name": model.event_type,
        "title": model.__name__,
        "contentType": CONTENT_TYPE,
        "headers": _headers(model.event_type),
        "payload": {"$ref": _COMPONENT + model.event_type},
        "correlationId": {
            "description": "Carried across every event of one request.",
            "location": "$message.header#/ce_correlationid",
        },
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
    }
    doc = model.__dict__.get("__doc__")
    if doc:
        message["summary"] = doc.strip().splitlines()[0]
    return message


def _operations(
    services: Mapping[str, ServiceContract], catalogue: Mapping[str, type[EventPayload]]
) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for service, contract in sorted(services.items()):
        for action, types in (("send", contract.publishes), ("receive", contract.consumes)):
            by_topic: dict[str, list[str]] = {}
            for event_type in sorted(t for t in types if t in catalogue):
                by_topic.setdefault(catalogue[event_type].topic, []).append(event_type)
            for topic, event_types in sorted(by_topic.items()):
                verb = "publishes to" if action == "send" else "consumes from"
                operations[f"{service}.{action}.{topic}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{topic}"},
                    "summary": f"{service} {verb} {topic}",
                    "messages": [{"$ref": f"#/channels/{topic}/messages/{t}"} for t in event_types],
                    "tags": [{"name": service}],
                }
    return operations


def build_asyncapi(
    catalogue: Mapping[str, type[EventPayload]] | None = None,
    services: Mapping[str, ServiceContract] | None = None,
) -> dict[str, Any]:
    catalogue = CATALOGUE if catalogue is None else catalogue
    services = SERVICES if services is None else services
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for event_type, model in sorted(catalogue.items()):
        messages[event_type] = _message(model, _payload(model, schemas))
        channel = channels.setdefault(
            model.topic,
            {
                "address": model.topic,
                "title": model.topic,
                "description": f"One topic per aggregate, keyed by {model.key_field}; failed "
                f"messages go to {model.topic}.dlq.",
                "messages": {},
                "bindings": {"kafka": {"topic": model.topic, "bindingVersion": KAFKA_BINDING}},
            },
        )
        channel["messages"][event_type] = {"$ref": f"#/components/messages/{event_type}"}
    return {
        "asyncapi": "3.0.0",
        "id": "urn:vareon:events",
        "info": {
            "title": "Vareon events",
            "version": _version(),
            "description": "Every event of the platform: versioned CloudEvents on Kafka, one "
            "topic per aggregate. Generated from vareon_contracts.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The broker of `vareon up` (VAREON_KAFKA_BOOTSTRAP"
                " points services elsewhere).",
            }
        },
        "channels": channels,
        "operations": _operations(services, catalogue),
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }
