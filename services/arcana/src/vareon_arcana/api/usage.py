"""Usage views: your own spend by day, model and API key; anyone's with ``usage:read-any``."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import PROBLEM_BASE, DomainError, Forbidden

from vareon_arcana import usage

READ_ANY = "usage:read-any"
MAX_DAYS = 366
router = APIRouter(prefix="/api/v1/arcana", tags=["arcana"])


class InvalidRange(DomainError):
    type = PROBLEM_BASE + "invalid-usage-range"
    title = "Invalid date range"
    status = 422


class UsageRowOut(BaseModel):
    day: date
    provider: str
    model: str
    key_id: uuid.UUID | None = Field(description="The API key; null for calls with a token.")
    key_name: str | None
    key_prefix: str | None
    requests: int
    tokens_in: int
    tokens_out: int
    credits: int = Field(description="Micro-credits charged.")


class UsageOut(BaseModel):
    user_id: uuid.UUID
    since: date
    until: date
    rows: list[UsageRowOut]
    total_credits: int
    total_tokens_in: int
    total_tokens_out: int


@router.get("/usage", response_model=UsageOut)
async def usage_view(
    user: CurrentUser,
    db: SessionDep,
    since: Annotated[
        date | None, Query(description="First UTC day (default: 30 days ago).")
    ] = None,
    until: Annotated[
        date | None, Query(description="Last UTC day, included (default: today).")
    ] = None,
    key_id: Annotated[uuid.UUID | None, Query(description="Only this API key's calls.")] = None,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Another user's (needs usage:read-any).")
    ] = None,
) -> Any:
    """What was charged, grouped by UTC day, model and API key (the wallet's numbers)."""
    owner = user_id or user.id
    if owner != user.id and not user.has(READ_ANY):
        raise Forbidden(f"missing permission {READ_ANY!r}")
    last = until or datetime.now(UTC).date()
    first = since or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise InvalidRange(f"since must be at most {MAX_DAYS} days before until, and not after it")
    rows = await usage.grouped(
        db,
        owner,
        since=datetime.combine(first, time(), UTC),
        until=datetime.combine(last + timedelta(days=1), time(), UTC),
        key_id=key_id,
    )
    return UsageOut(
        user_id=owner,
        since=first,
        until=last,
        rows=[UsageRowOut(**vars(r)) for r in rows],
        total_credits=sum(r.credits for r in rows),
        total_tokens_in=sum(r.tokens_in for r in rows),
        total_tokens_out=sum(r.tokens_out for r in rows),
    )
