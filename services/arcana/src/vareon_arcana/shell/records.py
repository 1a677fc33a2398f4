"""Shell sessions as records: opened, every command line, closed. Only flushes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_arcana.models import ShellCommand, ShellSession


async def open_shell(
    session: AsyncSession, user_id: uuid.UUID, chat_session_id: uuid.UUID
) -> uuid.UUID:
    """A new shell session attached to the (owned) chat session; its id."""
    shell = ShellSession(id=uuid.uuid4(), user_id=user_id, chat_session_id=chat_session_id)
    session.add(shell)
    await session.flush()
    return shell.id


async def record_command(
    session: AsyncSession,
    shell_session_id: uuid.UUID,
    line: str,
    command: str | None,
    status: str,
    detail: str | None = None,
    *,
    usage_id: uuid.UUID | None = None,
    cost: int | None = None,
) -> None:
    session.add(
        ShellCommand(
            shell_session_id=shell_session_id,
            line=line,
            command=command,
            status=status,
            detail=detail,
            usage_id=usage_id,
            cost=cost,
        )
    )
    await session.flush()


async def close_shell(session: AsyncSession, shell_session_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(ShellSession)
        .where(ShellSession.id == shell_session_id, ShellSession.closed_at.is_(None))
        .values(closed_at=datetime.now(UTC), close_reason=reason)
    )
