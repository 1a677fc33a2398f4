"""Agent use cases: CRUD for the owner, bulk actions as idempotent commands, outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor
from vareon_contracts.events.myntrix import AgentStatusChangedV1

from vareon_myntrix.agent_kinds import CONFIGURATION
from vareon_myntrix.errors import (
    AgentNotFound,
    CommandNotFound,
    IdempotencyKeyReused,
    IllegalAgentTransition,
    IllegalCommandTransition,
    InvalidConfiguration,
)
from vareon_myntrix.lifecycle import (
    DELETABLE,
    OPEN,
    AgentEvent,
    CommandState,
    IllegalTransition,
    command_can_move,
    next_status,
    outcome_event,
)
from vareon_myntrix.models import OUTBOX, Agent, Command


def _now() -> datetime:
    return datetime.now(UTC)


async def create(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    name: str,
    kind: str,
    model: str,
    configuration: dict[str, Any],
) -> Agent:
    agent = Agent(
        owner_id=owner_id,
        name=name,
        kind=kind,
        model=model,
        configuration=configuration,
        status="stopped",
    )
    session.add(agent)
    await session.flush()
    return agent


async def get(
    session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID, *, lock: bool = False
) -> Agent:
    query = select(Agent).where(Agent.id == agent_id, Agent.owner_id == owner_id)
    agent = await session.scalar(query.with_for_update() if lock else query)
    if agent is None:
        raise AgentNotFound(f"no agent {agent_id}")
    return agent


async def page(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
) -> list[Agent]:
    query = select(Agent).where(Agent.owner_id == owner_id)
    if status:
        query = query.where(Agent.status == status)
    after = decode_cursor(cursor, datetime, uuid.UUID)
    if after:
        query = query.where(tuple_(Agent.created_at, Agent.id) > after)
    query = query.order_by(Agent.created_at, Agent.id).limit(limit + 1)
    return list(await session.scalars(query))


async def update_agent(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agent_id: uuid.UUID,
    *,
    name: str | None,
    model: str | None,
    configuration: dict[str, Any] | None,
) -> Agent:
    agent = await get(session, owner_id, agent_id, lock=True)
    if configuration is not None:
        try:
            parsed = CONFIGURATION.validate_python({**configuration, "kind": agent.kind})
        except ValidationError as exc:
            raise InvalidConfiguration(
                [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            ) from None
        agent.configuration = parsed.model_dump(mode="json")
    agent.name = name or agent.name
    agent.model = model or agent.model
    agent.updated_at = _now()
    await session.flush()
    return agent


async def remove(session: AsyncSession, owner_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    agent = await get(session, owner_id, agent_id, lock=True)
    if agent.status not in DELETABLE:
        raise IllegalAgentTransition(f"stop the agent first: it is {agent.status}")
    await session.delete(agent)
    await session.flush()


async def _transition(
    session: AsyncSession, agent: Agent, event: str, command_id: uuid.UUID | None
) -> None:
    try:
        new = next_status(agent.status, event)
    except IllegalTransition as exc:
        raise IllegalAgentTransition(str(exc), agent_id=str(agent.id)) from None
    previous, agent.status, agent.updated_at = agent.status, str(new), _now()
    await OUTBOX.publish(
        session,
        AgentStatusChangedV1(
            agent_id=agent.id,
            owner_id=agent.owner_id,
            previous_status=previous,
            status=agent.status,
            command_id=command_id,
            changed_at=agent.updated_at,
        ),
    )


async def act(
    session: AsyncSession,
    owner_id: uuid.UUID,
    agent_ids: Sequence[uuid.UUID],
    action: str,
    idempotency_key: str,
    ttl_s: float,
) -> list[Command]:
    """One command per agent. A repeated key returns the commands it created; nothing is
    applied unless every agent may take the action (all or nothing, 409 otherwise)."""
    ids = list(dict.fromkeys(agent_ids))
    # Locking the agents in id order serialises concurrent requests for the same agents.
    agents = {
        a.id: a
        for a in await session.scalars(
            select(Agent)
            .where(Agent.id.in_(ids), Agent.owner_id == owner_id)
            .order_by(Agent.id)
            .with_for_update()
        )
    }
    missing = [str(i) for i in ids if i not in agents]
    if missing:
        raise AgentNotFound(f"{len(missing)} agents not found", agent_ids=missing)
    existing = {
        c.agent_id: c
        for c in await session.scalars(
            select(Command).where(
                Command.idempotency_key == idempotency_key, Command.agent_id.in_(ids)
            )
        )
    }
    if any(c.action != action for c in existing.values()):
        raise IdempotencyKeyReused("this idempotency key was used for another action")
    fresh = [agents[i] for i in ids if i not in existing]
    illegal = []
    for agent in fresh:
        try:
            next_status(agent.status, action)
        except IllegalTransition:
            illegal.append({"agent_id": str(agent.id), "status": agent.status})
    if illegal:
        raise IllegalAgentTransition(
            f"cannot {action} {len(illegal)} of the agents in their current status", agents=illegal
        )
    now = _now()
    for agent in fresh:
        command = Command(
            id=uuid.uuid4(),
            agent_id=agent.id,
            owner_id=owner_id,
            action=action,
            idempotency_key=idempotency_key,
            state="queued",
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        session.add(command)
        existing[agent.id] = command
        await _transition(session, agent, action, command.id)
    await session.flush()
    return [existing[i] for i in ids]


async def get_command(
    session: AsyncSession, owner_id: uuid.UUID, command_id: uuid.UUID, *, lock: bool = False
) -> Command:
    query = select(Command).where(Command.id == command_id, Command.owner_id == owner_id)
    command = await session.scalar(query.with_for_update() if lock else query)
    if command is None:
        raise CommandNotFound(f"no command {command_id}")
    return command


async def report(
    session: AsyncSession,
    owner_id: uuid.UUID,
    command_id: uuid.UUID,
    state: str,
    detail: str | None,
) -> Command:
    command = await get_command(session, owner_id, command_id, lock=True)
    if not command_can_move(command.state, state):
        raise IllegalCommandTransition(f"a {command.state} command cannot become {state}")
    command.state, command.detail, command.updated_at = state, detail, _now()
    if state in (CommandState.SUCCEEDED, CommandState.FAILED):
        agent = await get(session, owner_id, command.agent_id, lock=True)
        event = outcome_event(command.action, state == CommandState.SUCCEEDED)
        await _transition(session, agent, event, command.id)
    await session.flush()
    return command


async def expire_commands(session: AsyncSession, now: datetime, limit: int = 200) -> int:
    """Open commands past their TTL expire; their agent, caught mid-way, is failed."""
    due = (
        select(Command.id)
        .where(Command.state.in_([str(s) for s in OPEN]), Command.expires_at < now)
        .order_by(Command.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = (
        await session.execute(
            update(Command)
            .where(Command.id.in_(due))
            .values(state=str(CommandState.EXPIRED), updated_at=now, detail="no outcome in time")
            .returning(Command.agent_id, Command.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for agent_id, command_id in expired:
        agent = await session.scalar(select(Agent).where(Agent.id == agent_id).with_for_update())
        if agent is not None and agent.status in ("starting", "stopping"):
            await _transition(session, agent, AgentEvent.FAILED, command_id)
    return len(expired)


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The user's agents and commands go; nothing else in myntrix names them personally."""
    await session.execute(
        delete(Command).where(
            or_(
                Command.owner_id == user_id,
                and_(Command.agent_id.in_(select(Agent.id).where(Agent.owner_id == user_id))),
            )
        )
    )
    await session.execute(delete(Agent).where(Agent.owner_id == user_id))
