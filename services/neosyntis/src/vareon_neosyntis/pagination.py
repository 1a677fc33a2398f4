"""Opaque keyset cursors: (created_at, id) of the last item of a page."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from vareon_neosyntis.errors import InvalidRequest


def encode_cursor(created_at: datetime, id_: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{id_}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created_at, id_ = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(id_)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("invalid cursor", parameter="cursor") from None
