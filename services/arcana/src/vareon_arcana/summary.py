"""Arcana's section of the dashboard: one cheap read per request (the gateway fans out)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal
from vareon_chassis.errors import Forbidden

from vareon_arcana.models import ChatSession, Message, Persona, UsageRecord
from vareon_arcana.schemas import ArcanaSummary, Recent

PLATFORM_READ = "system:read"
Scope = Literal["user", "platform"]


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def summary(db: AsyncSession, user: Principal, scope: Scope) -> ArcanaSummary:
    """The caller's chats this month (``platform``: everyone's, needs system:read)."""
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    start = month_start(datetime.now(UTC))
    mine = scope == "user"
    sessions = select(func.count()).select_from(ChatSession)
    recent_sessions = select(func.count()).select_from(ChatSession)
    messages = (
        select(func.count())
        .select_from(Message)
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(Message.created_at >= start)
    )
    spent = select(func.coalesce(func.sum(UsageRecord.cost), 0)).where(
        UsageRecord.recorded_at >= start
    )
    personas = select(func.count()).select_from(Persona)
    if mine:
        sessions = sessions.where(ChatSession.user_id == user.id)
        recent_sessions = recent_sessions.where(ChatSession.user_id == user.id)
        messages = messages.where(ChatSession.user_id == user.id)
        spent = spent.where(UsageRecord.user_id == user.id)
        personas = personas.where(Persona.owner_id == user.id)
    recent_sessions = recent_sessions.where(ChatSession.created_at >= start)
    # One round trip for the five counts (each its own indexed subquery).
    counts = (
        await db.execute(
            select(
                sessions.scalar_subquery(),
                recent_sessions.scalar_subquery(),
                messages.scalar_subquery(),
                spent.scalar_subquery(),
                personas.scalar_subquery(),
            )
        )
    ).one()
    result = ArcanaSummary(
        scope=scope,
        sessions=counts[0] or 0,
        sessions_this_month=counts[1] or 0,
        messages_this_month=counts[2] or 0,
        credits_spent_this_month=int(counts[3] or 0),
        personas=counts[4] or 0,
    )
    if mine:
        rows = await db.execute(
            select(ChatSession.id, ChatSession.title, ChatSession.updated_at)
            .where(ChatSession.user_id == user.id)
            .order_by(ChatSession.updated_at.desc())
            .limit(5)
        )
        result.recent = [Recent(kind="chat", id=i, title=t, at=a) for i, t, a in rows.all()]
    else:
        result.active_users_this_month = (
            await db.scalar(
                select(func.count(func.distinct(ChatSession.user_id))).where(
                    ChatSession.updated_at >= start
                )
            )
            or 0
        )
    return result
