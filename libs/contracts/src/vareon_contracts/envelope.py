"""CloudEvents 1.0 envelope carried in Kafka binary mode (ce_* headers, JSON data)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vareon_contracts.catalogue import EventPayload

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
SCHEMA_BASE = "https://schemas.vareon.dev/events/"
_ATTRIBUTES = (
    "id",
    "source",
    "type",
    "subject",
    "time",
    "dataschema",
    "correlationid",
    "causationid",
)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = CONTENT_TYPE
    dataschema: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        source: str,
        correlationid: str | None = None,
        causationid: str | None = None,
    ) -> Envelope:
        return cls(
            source=source,
            type=payload.event_type,
            subject=payload.partition_key(),
            dataschema=f"{SCHEMA_BASE}{payload.event_type}.json",
            correlationid=correlationid,
            causationid=causationid,
            data=payload.model_dump(mode="json"),
        )

    @property
    def key(self) -> str | None:
        return self.subject

    def headers(self) -> dict[str, str]:
        out = {"ce_specversion": SPEC_VERSION, "content-type": self.datacontenttype}
        for name in _ATTRIBUTES:
            value = getattr(self, name)
            if value is None:
                continue
            out[f"ce_{name}"] = value.isoformat() if isinstance(value, datetime) else str(value)
        return out


class MalformedEvent(ValueError):
    """A Kafka record that is not a readable CloudEvent."""


def encode_kafka(envelope: Envelope) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    key = envelope.key.encode() if envelope.key is not None else None
    value = json.dumps(envelope.data, separators=(",", ":")).encode()
    headers = [(name, value.encode()) for name, value in envelope.headers().items()]
    return key, value, headers


def decode_kafka(
    value: bytes | None, headers: dict[str, str] | list[tuple[str, bytes]]
) -> Envelope:
    if isinstance(headers, list):
        headers = {k: v.decode(errors="replace") for k, v in headers}
    attrs = {k[3:]: v for k, v in headers.items() if k.startswith("ce_")}
    if attrs.get("specversion") != SPEC_VERSION:
        found = attrs.get("specversion")
        raise MalformedEvent(f"not a CloudEvents {SPEC_VERSION} message: {found!r}")
    try:
        data = json.loads(value or b"null")
        attrs.pop("specversion")
        return Envelope(
            **attrs, data=data, datacontenttype=headers.get("content-type", CONTENT_TYPE)
        )
    except (ValueError, TypeError) as exc:
        raise MalformedEvent(str(exc)) from exc
