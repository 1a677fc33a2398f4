"""Settling a call, on every exit: release the reservation, record what was produced and what
it cost, publish ``UsageRecordedV1``; one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana import credits, key_budgets, pricing, routing_samples, tokens
from vareon_arcana.calls.admission import Turn
from vareon_arcana.models import OUTBOX, ChatSession, Message, UsageRecord
from vareon_arcana.providers import Usage


@dataclass(frozen=True)
class Receipt:
    message_id: uuid.UUID | None
    usage_id: uuid.UUID | None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: int
    status: str


@dataclass(frozen=True)
class Charge:
    """What one answering target produced and what it costs."""

    target: ModelTarget
    tokens_in: int
    tokens_out: int
    cost: int
    usage_id: uuid.UUID | None
    """Set when the call is paid: the usage record and its event carry it."""

    def columns(self) -> dict[str, str | int]:
        """The fields every record of a charge has (message, usage record, event)."""
        return {
            "provider": self.target.provider,
            "model": self.target.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": self.cost,
        }


async def settle(
    session: AsyncSession,
    turn: Turn,
    target: ModelTarget | None,
    text: str,
    usage: Usage | None,
    status: str,
) -> Receipt | None:
    """The receipt of what ``target`` produced (None when no target produced anything).

    Tokens are the provider's reported usage; without it (a failure, a disconnect) they are
    counted here. Only flushes."""
    await credits.release(session, turn.reservation_id)
    if target is None:
        await _sample(session, turn, None, turn.prompt_tokens, 0, 0)
        return None
    tokens_in = (usage.tokens_in if usage else None) or turn.prompt_tokens
    tokens_out = usage.tokens_out if usage else tokens.count(text)
    cost = pricing.cost(target, tokens_in, tokens_out)
    await _sample(session, turn, target, tokens_in, tokens_out, cost)
    paid = cost > 0 and turn.charged
    charge = Charge(target, tokens_in, tokens_out, cost, uuid.uuid4() if paid else None)
    message_id = await _store_reply(session, turn, text, status, charge)
    if charge.usage_id is not None:
        await _record_usage(session, turn, charge, charge.usage_id)
    if turn.caller.api_key_id is not None:
        await key_budgets.record_spend(
            session, turn, target, charge.usage_id, tokens_in, tokens_out, cost
        )
    return Receipt(
        message_id,
        charge.usage_id,
        target.provider,
        target.model,
        tokens_in,
        tokens_out,
        cost,
        status,
    )


async def _sample(
    session: AsyncSession,
    turn: Turn,
    target: ModelTarget | None,
    tokens_in: int,
    tokens_out: int,
    cost: int,
) -> None:
    inputs = turn.route.inputs
    if inputs is not None and not turn.caller.is_anonymous:
        await routing_samples.record(
            session,
            turn.caller.user_id,
            inputs,
            turn.route.targets,
            target,
            tokens_in,
            tokens_out,
            cost,
        )


async def _store_reply(
    session: AsyncSession, turn: Turn, text: str, status: str, charge: Charge
) -> uuid.UUID | None:
    """The assistant message in the turn's chat session, when it has one still there; it
    becomes the session's current leaf unless the user switched branches meanwhile."""
    chat = await session.get(ChatSession, turn.session_id) if turn.session_id else None
    if chat is None:
        return None
    message_id = turn.reply_id or uuid.uuid4()
    if turn.parent_id is not None and chat.current_id == turn.parent_id:
        chat.current_id = message_id
    session.add(
        Message(
            id=message_id,
            session_id=chat.id,
            parent_id=turn.parent_id,
            search_config=chat.language,
            role="assistant",
            content=text,
            status=status,
            usage_id=charge.usage_id,
            **charge.columns(),
        )
    )
    chat.updated_at = datetime.now(UTC)
    return message_id


async def _record_usage(
    session: AsyncSession, turn: Turn, charge: Charge, usage_id: uuid.UUID
) -> None:
    user_id = turn.caller.user_id
    seq = await credits.next_usage_seq(session, user_id)
    session.add(
        UsageRecord(
            id=usage_id, seq=seq, user_id=user_id, session_id=turn.session_id, **charge.columns()
        )
    )
    await session.flush()
    await OUTBOX.publish(
        session,
        UsageRecordedV1(
            usage_id=usage_id,
            user_id=user_id,
            session_id=turn.session_id,
            request_id=turn.caller.request_id,
            recorded_at=datetime.now(UTC),
            seq=seq,
            **charge.columns(),
        ),
    )
