"""Personas: saved assistants (system prompt, category or model, sampling), versioned.

A persona is its owner's; ``shared`` ones are visible to every user (making one shared needs
``personas:share``). An edit adds a version and never changes an old one: a chat session
created with a persona records the version it was created with and keeps answering with it.
Others see another user's private persona as absent (404), never as forbidden.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor, encode_cursor

from vareon_arcana import memory, replicas, sessions
from vareon_arcana.calls import Caller, Options, Route
from vareon_arcana.errors import (
    IdempotencyKeyReused,
    PersonaNotFound,
    PersonaSlugTaken,
    SharingForbidden,
)
from vareon_arcana.models import ChatSession, Persona, PersonaSession, PersonaVersion

SHARE = "personas:share"
PRIVATE, SHARED = "private", "shared"
FIELDS = (
    "name",
    "description",
    "system_prompt",
    "category",
    "model",
    "temperature",
    "max_tokens",
    "starters",
)


@dataclass(frozen=True)
class View:
    persona: Persona
    current: PersonaVersion


def _visible(caller: Caller) -> Any:
    return or_(Persona.owner_id == caller.user_id, Persona.visibility == SHARED)


def _check_share(caller: Caller, visibility: str) -> None:
    if visibility == SHARED and SHARE not in caller.permissions:
        raise SharingForbidden(f"sharing a persona with every user needs {SHARE}")


async def create(
    session: AsyncSession, caller: Caller, *, slug: str, visibility: str, fields: dict[str, Any]
) -> View:
    _check_share(caller, visibility)
    now = datetime.now(UTC)
    persona = Persona(
        id=uuid.uuid4(),
        owner_id=caller.user_id,
        slug=slug,
        visibility=visibility,
        version=1,
        created_at=now,
        updated_at=now,
    )
    version = PersonaVersion(persona_id=persona.id, version=1, created_at=now, **fields)
    session.add(persona)
    await _flush_slug(session, slug)
    session.add(version)
    await session.flush()
    return View(persona, version)


async def _flush_slug(session: AsyncSession, slug: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise PersonaSlugTaken(f"a persona named {slug!r} is already yours or shared") from exc


async def _current(session: AsyncSession, persona: Persona) -> PersonaVersion:
    version = await session.get(PersonaVersion, (persona.id, persona.version))
    assert version is not None  # written with the persona, never deleted alone
    return version


async def visible(
    session: AsyncSession, caller: Caller, persona_id: uuid.UUID, *, for_update: bool = False
) -> View:
    query = select(Persona).where(Persona.id == persona_id, _visible(caller))
    if for_update:
        query = query.with_for_update()
    persona = await session.scalar(query)
    if persona is None:
        raise PersonaNotFound(f"no persona {persona_id}")
    return View(persona, await _current(session, persona))


async def owned(session: AsyncSession, caller: Caller, persona_id: uuid.UUID) -> View:
    """For changes: only the owner changes a persona (a shared one is read-only to others)."""
    view = await visible(session, caller, persona_id, for_update=True)
    if view.persona.owner_id != caller.user_id:
        raise PersonaNotFound(f"no persona {persona_id} of yours")
    return view


async def by_slug(session: AsyncSession, caller: Caller, slug: str) -> View:
    """The caller's own persona of that slug, else the shared one."""
    persona = await session.scalar(
        select(Persona)
        .where(Persona.slug == slug, _visible(caller))
        .order_by((Persona.owner_id == caller.user_id).desc())
        .limit(1)
    )
    if persona is None:
        raise PersonaNotFound(f"no persona {slug!r}")
    return View(persona, await _current(session, persona))


async def page(
    session: AsyncSession, caller: Caller, *, limit: int, cursor: str | None, mine: bool
) -> tuple[list[View], str | None]:
    """Newest first: the caller's own and the shared ones (``mine``: own only)."""
    query = select(Persona, PersonaVersion).join(
        PersonaVersion,
        (PersonaVersion.persona_id == Persona.id) & (PersonaVersion.version == Persona.version),
    )
    query = query.where(Persona.owner_id == caller.user_id if mine else _visible(caller))
    if (key := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        query = query.where(tuple_(Persona.created_at, Persona.id) < key)
    rows = (
        await session.execute(
            query.order_by(Persona.created_at.desc(), Persona.id.desc()).limit(limit + 1)
        )
    ).all()
    views = [View(p, v) for p, v in rows[:limit]]
    last = views[-1].persona if len(rows) > limit else None
    return views, encode_cursor(last.created_at, last.id) if last else None


async def update(
    session: AsyncSession,
    caller: Caller,
    persona_id: uuid.UUID,
    *,
    slug: str | None,
    visibility: str | None,
    changes: dict[str, Any],
) -> View:
    """A new version with ``changes`` over the current one; slug and visibility are the
    persona's own (not versioned). Changing nothing adds no version."""
    view = await owned(session, caller, persona_id)
    persona, current = view.persona, view.current
    if visibility is not None and visibility != persona.visibility:
        _check_share(caller, visibility)
        persona.visibility = visibility
    if slug is not None and slug != persona.slug:
        persona.slug = slug
    fields = {f: getattr(current, f) for f in FIELDS} | changes
    now = datetime.now(UTC)
    if fields != {f: getattr(current, f) for f in FIELDS}:
        current = PersonaVersion(
            persona_id=persona.id, version=persona.version + 1, created_at=now, **fields
        )
        session.add(current)
        persona.version = current.version
    persona.updated_at = now
    await _flush_slug(session, persona.slug)
    return View(persona, current)


async def versions(
    session: AsyncSession, caller: Caller, persona_id: uuid.UUID
) -> list[PersonaVersion]:
    await visible(session, caller, persona_id)
    return list(
        await session.scalars(
            select(PersonaVersion)
            .where(PersonaVersion.persona_id == persona_id)
            .order_by(PersonaVersion.version.desc())
        )
    )


async def remove(session: AsyncSession, caller: Caller, persona_id: uuid.UUID) -> None:
    """Sessions created with it stay, and go on as plain sessions of their category."""
    view = await owned(session, caller, persona_id)
    await session.delete(view.persona)
    await session.flush()


async def start_session(
    session: AsyncSession,
    caller: Caller,
    view: View,
    *,
    title: str | None,
    idempotency_key: str | None = None,
) -> tuple[ChatSession, int]:
    """A chat session that answers as ``view``'s current version, and that version.

    With ``idempotency_key`` the same key gives the caller the same session again (another
    persona under a used key is a 409)."""
    if idempotency_key is not None:
        earlier = await _keyed(session, caller, idempotency_key)
        if earlier is not None:
            return await _replay(session, earlier, view)
    current = view.current
    chat = await sessions.create(
        session, caller.user_id, title=title or current.name, category=current.category
    )
    session.add(
        PersonaSession(
            session_id=chat.id,
            persona_id=view.persona.id,
            version=current.version,
            user_id=caller.user_id,
            idempotency_key=idempotency_key,
        )
    )
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # the same key, committed by a concurrent request meanwhile
        earlier = await _keyed(session, caller, idempotency_key or "")
        if earlier is None:
            raise
        return await _replay(session, earlier, view)
    return chat, current.version


async def _keyed(session: AsyncSession, caller: Caller, key: str) -> PersonaSession | None:
    return await session.scalar(
        select(PersonaSession).where(
            PersonaSession.user_id == caller.user_id, PersonaSession.idempotency_key == key
        )
    )


async def _replay(
    session: AsyncSession, earlier: PersonaSession, view: View
) -> tuple[ChatSession, int]:
    if earlier.persona_id != view.persona.id:
        raise IdempotencyKeyReused("this Idempotency-Key started a chat with another persona")
    chat = await session.get(ChatSession, earlier.session_id)
    assert chat is not None  # the row cascades away with its session
    return chat, earlier.version


async def of_session(session: AsyncSession, chat_id: uuid.UUID) -> PersonaVersion | None:
    """The persona version a chat session answers as (None: a plain session, or its persona
    was deleted)."""
    return await session.scalar(
        select(PersonaVersion)
        .join(
            PersonaSession,
            (PersonaSession.persona_id == PersonaVersion.persona_id)
            & (PersonaSession.version == PersonaVersion.version),
        )
        .where(PersonaSession.session_id == chat_id)
    )


def messages(version: PersonaVersion, context: list[dict[str, str]]) -> list[dict[str, str]]:
    """The persona's system prompt in place of the default one; the context memory stays."""
    system = context[0]["content"]
    rest = system[len(memory.SYSTEM) :] if system.startswith(memory.SYSTEM) else "\n\n" + system
    return [{"role": "system", "content": version.system_prompt + rest}, *context[1:]]


def options(version: PersonaVersion, given: Options) -> Options:
    """The persona's temperature and output cap (a smaller cap asked for by the caller wins)."""
    cap = version.max_tokens
    max_tokens = min(given.max_tokens, cap) if cap else given.max_tokens
    temperature = version.temperature if version.temperature is not None else given.temperature
    return replace(given, max_tokens=max_tokens, temperature=temperature)


async def pinned_route(
    session: AsyncSession,
    version: PersonaVersion,
    routed: Route,
    configured: Callable[[str], bool],
) -> Route:
    """A persona naming a model is answered by the rules' target of that model (its prices
    are the rule's), with the routed targets after it as fallbacks; a model no rule names
    leaves the category's route as it is."""
    if version.model is None:
        return routed
    for rule in await replicas.rules(session):
        for target in rule.targets:
            if target.model == version.model and configured(target.provider):
                rest = [t for t in routed.targets if t != target]
                return Route(routed.rule, [target, *rest], routed.inputs)
    return routed


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Their personas and versions go; others' sessions made with a shared one go plain."""
    await session.execute(delete(Persona).where(Persona.owner_id == user_id))


PREFIX = "persona:"


def slug_of(model: str) -> str | None:
    """The slug an OpenAI ``model`` of ``persona:<slug>`` names (None for other models)."""
    if model.startswith(PREFIX) and len(model) > len(PREFIX):
        return model[len(PREFIX) :]
    return None


def with_prompt(version: PersonaVersion, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The persona's system prompt first, before what the client sent (its own system
    messages included)."""
    return [{"role": "system", "content": version.system_prompt}, *messages]


async def usable_slugs(session: AsyncSession, caller: Caller, limit: int = 200) -> list[str]:
    """``persona:<slug>`` names the caller may use: their own, then the shared ones."""
    rows = await session.scalars(
        select(Persona.slug)
        .where(_visible(caller))
        .order_by((Persona.owner_id == caller.user_id).desc(), Persona.slug)
        .limit(limit)
    )
    return list(dict.fromkeys(rows))
