"""Opaque keyset cursors, one implementation for every list endpoint.

A cursor is the sort key of a page's last row (``encode_cursor(row.created_at, row.id)``),
as URL-safe base64 of a JSON array. ``decode_cursor(text, datetime, UUID)`` gives the key
back typed, or raises ``InvalidCursor`` (422 ``invalid-cursor``) for anything this module
did not make: empty, malformed, the wrong shape, or values PostgreSQL could not compare.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from vareon_chassis.errors import InvalidCursor
from vareon_chassis.validation import unstorable

MAX_CURSOR_LENGTH = 512
CursorValue = int | str | bool | uuid.UUID | datetime

Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="`next_cursor` of the previous page; omit for the first page.",
    ),
]
"""The ``cursor`` query parameter of a list endpoint."""

MAX_PAGE_SIZE = 200
PageSize = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, 1 to {MAX_PAGE_SIZE}.")
]
"""The ``limit`` query parameter of a list endpoint (its default is the route's)."""


def encode_cursor(*values: CursorValue) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in values
    ]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _typed(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and not unstorable(value):
            return value
    elif isinstance(value, str) and not unstorable(value):
        if kind is str:
            return value
        if kind is uuid.UUID:
            return uuid.UUID(value)
        if kind is datetime:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
    raise ValueError(f"not a {kind.__name__}")


def decode_cursor(cursor: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The values ``encode_cursor`` was given, checked against ``kinds``; None for no cursor."""
    if cursor is None:
        return None
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("the cursor is empty or not one this API returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong shape")
        return tuple(_typed(v, k) for v, k in zip(values, kinds, strict=True))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API returned") from exc
