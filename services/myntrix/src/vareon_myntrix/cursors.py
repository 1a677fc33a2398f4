"""Opaque keyset cursors over (created_at, id)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from vareon_myntrix.errors import InvalidCursor


def encode(created_at: datetime, id_: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, id_ = raw.partition("|")
        return datetime.fromisoformat(at), uuid.UUID(id_)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this API returned") from exc
