"""A user's scenarios: create, list, read, replace, delete; erased with the user.

Only the owner sees a scenario (anyone else gets 404); its runs go with it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor

from vareon_arcana import personas
from vareon_arcana.calls import Caller
from vareon_arcana.errors import ScenarioNotFound
from vareon_arcana.scenarios.models import Scenario
from vareon_arcana.scenarios.schemas import ScenarioSpec


async def check_persona(
    session: AsyncSession, caller: Caller, spec: ScenarioSpec
) -> personas.View | None:
    """The persona the scenario names, as it is now (404 persona-not-found)."""
    if spec.persona is None:
        return None
    return await personas.by_slug(session, caller, spec.persona)


async def create(session: AsyncSession, caller: Caller, spec: ScenarioSpec) -> Scenario:
    await check_persona(session, caller, spec)
    now = datetime.now(UTC)
    scenario = Scenario(
        id=uuid.uuid4(),
        owner_id=caller.user_id,
        name=spec.name,
        spec=spec.model_dump(mode="json", exclude_unset=True),
        created_at=now,
        updated_at=now,
    )
    session.add(scenario)
    await session.flush()
    return scenario


async def owned(
    session: AsyncSession, caller: Caller, scenario_id: uuid.UUID, *, for_update: bool = False
) -> Scenario:
    query = select(Scenario).where(Scenario.id == scenario_id, Scenario.owner_id == caller.user_id)
    if for_update:
        query = query.with_for_update()
    scenario = await session.scalar(query)
    if scenario is None:
        raise ScenarioNotFound(f"no scenario {scenario_id}")
    return scenario


async def page(
    session: AsyncSession, caller: Caller, *, limit: int, cursor: str | None
) -> tuple[list[Scenario], str | None]:
    """Newest first."""
    query = select(Scenario).where(Scenario.owner_id == caller.user_id)
    if (key := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        query = query.where(tuple_(Scenario.created_at, Scenario.id) < key)
    rows = list(
        await session.scalars(
            query.order_by(Scenario.created_at.desc(), Scenario.id.desc()).limit(limit + 1)
        )
    )
    last = rows[limit - 1] if len(rows) > limit else None
    return rows[:limit], encode_cursor(last.created_at, last.id) if last else None


async def replace_spec(
    session: AsyncSession, caller: Caller, scenario_id: uuid.UUID, spec: ScenarioSpec
) -> Scenario:
    """Runs already made keep what they played (their plan)."""
    scenario = await owned(session, caller, scenario_id, for_update=True)
    await check_persona(session, caller, spec)
    scenario.name = spec.name
    scenario.spec = spec.model_dump(mode="json", exclude_unset=True)
    scenario.updated_at = datetime.now(UTC)
    await session.flush()
    return scenario


async def remove(session: AsyncSession, caller: Caller, scenario_id: uuid.UUID) -> None:
    """Its runs and their results go too (a run in progress stops after its conversation)."""
    await session.delete(await owned(session, caller, scenario_id))
    await session.flush()


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(Scenario).where(Scenario.owner_id == user_id))
