"""``Idempotency-Key`` for actions that create: the same key and request replay the first
answer, the same key with another request is a 409 ``idempotency-key-reused``.

A service keeps its keys in its own ``idempotency_keys`` table (``define_idempotency_keys``
on its metadata, created by its migration). ``claim`` inserts the key in the caller's
transaction before the work is done; a concurrent request with the same key waits on that
row until the first commits, then reads its result (or, if the first rolled back, claims the
key itself), so the work happens once. ``remember`` stores the result in the same
transaction, so the key and what it made commit or vanish together.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Table, Text, Uuid, and_, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_chassis.errors import PROBLEM_BASE, Conflict

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]
"""An optional ``Idempotency-Key`` header (no key: every call acts)."""
RequiredIdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=200)
]
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(Conflict):
    type = PROBLEM_BASE + "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


def fingerprint(request: BaseModel | dict[str, Any] | list[Any] | str | None) -> str:
    """SHA-256 of the request in canonical JSON (a model is dumped in JSON mode first)."""
    value = request.model_dump(mode="json") if isinstance(request, BaseModel) else request
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def define_idempotency_keys(metadata: Any) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("owner_id", Uuid, primary_key=True),
        Column("action", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("request_hash", Text, nullable=False),
        Column("result", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def _where(table: Table, owner_id: uuid.UUID, action: str, key: str) -> Any:
    return and_(table.c.owner_id == owner_id, table.c.action == action, table.c.key == key)


async def claim(
    session: AsyncSession,
    table: Table,
    *,
    owner_id: uuid.UUID,
    action: str,
    key: str,
    request_hash: str,
) -> dict[str, Any] | None:
    """None: the key is new and now this transaction's; do the work, then ``remember``.
    Otherwise the result remembered for the earlier, identical request. Keys are per owner
    and action: another user's (or action's) identical key is another request."""
    inserted = await session.scalar(
        insert(table)
        .values(owner_id=owner_id, action=action, key=key, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted is not None:
        return None
    row = (
        await session.execute(
            select(table.c.request_hash, table.c.result).where(_where(table, owner_id, action, key))
        )
    ).one()
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    result: dict[str, Any] = row.result
    return result


async def remember(
    session: AsyncSession,
    table: Table,
    *,
    owner_id: uuid.UUID,
    action: str,
    key: str,
    result: dict[str, Any],
) -> None:
    await session.execute(
        update(table).where(_where(table, owner_id, action, key)).values(result=result)
    )


async def forget_owner(session: AsyncSession, table: Table, owner_id: uuid.UUID) -> None:
    """Erasure: a deleted user's keys go with them."""
    await session.execute(table.delete().where(table.c.owner_id == owner_id))
