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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Scope:
    """One key of one owner for one action: another user's (or action's) identical key is
    another request."""

    owner_id: uuid.UUID
    action: str
    key: str

    def where(self, table: Table) -> Any:
        c = table.c
        return and_(c.owner_id == self.owner_id, c.action == self.action, c.key == self.key)


async def claim(
    session: AsyncSession, table: Table, scope: Scope, request_hash: str
) -> dict[str, Any] | None:
    """None: the key is new and now this transaction's; do the work, then ``remember``.
    Otherwise the result remembered for the earlier, identical request."""
    values = {"owner_id": scope.owner_id, "action": scope.action, "key": scope.key}
    inserted = await session.scalar(
        insert(table)
        .values(**values, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted is not None:
        return None
    query = select(table.c.request_hash, table.c.result).where(scope.where(table))
    row = (await session.execute(query)).one()
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    result: dict[str, Any] = row.result
    return result


async def remember(
    session: AsyncSession, table: Table, scope: Scope, result: dict[str, Any]
) -> None:
    await session.execute(update(table).where(scope.where(table)).values(result=result))


async def forget_owner(session: AsyncSession, table: Table, owner_id: uuid.UUID) -> None:
    """Erasure: a deleted user's keys go with them."""
    await session.execute(table.delete().where(table.c.owner_id == owner_id))
