"""Playing one conversation through the real call path (``Calls``: routing from the replica,
admission, provider fallback, settlement), turn by turn, timing each.

Nothing is stored in a chat session, and the calls are no routing samples (a dry-run reads
real traffic only); uncharged runs reserve and charge nothing (``admit(charge=False)``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from vareon_chassis.errors import DomainError

from vareon_arcana import memory, personas
from vareon_arcana.calls import Caller, Calls, End
from vareon_arcana.errors import PersonaNotFound
from vareon_arcana.models import PersonaVersion
from vareon_arcana.scenarios.expectations import TurnPlayed

DEFAULT_CATEGORY = "general"


@dataclass(frozen=True)
class Setup:
    """What every conversation of a run is played as."""

    caller: Caller
    category: str
    persona: PersonaVersion | None
    charge: bool


async def setup(calls: Calls, caller: Caller, plan: dict[str, Any], charge: bool) -> Setup:
    """The persona version the run was started with (404 persona-not-found when the persona
    was deleted since), else the category."""
    persona = None
    category = str(plan.get("category") or DEFAULT_CATEGORY)
    pinned = plan.get("persona_version")
    if pinned:
        async with calls.sessionmaker() as session:
            key = (uuid.UUID(pinned["id"]), int(pinned["version"]))
            persona = await session.get(PersonaVersion, key)
        if persona is None:
            raise PersonaNotFound(f"the persona {plan.get('persona')!r} was deleted")
        category = persona.category
    return Setup(caller, category, persona, charge)


async def play(
    calls: Calls, given: Setup, turns: list[str], *, json_mode: bool, max_tokens: int | None
) -> tuple[list[TurnPlayed], str | None]:
    """Each turn asked after the answers to the ones before; stops at the first turn that
    could not be answered (its reason returned)."""
    history: list[memory.Turn] = []
    played: list[TurnPlayed] = []
    settings = calls.settings
    for question in turns:
        context = memory.build(
            "",
            [],
            history,
            question,
            memory_budget=settings.memory_token_budget,
            history_budget=settings.history_token_budget,
        )
        try:
            turn = await _one(calls, given, context.messages, question, json_mode, max_tokens)
        except DomainError as exc:
            return played, f"{exc.title}: {exc.detail}"
        played.append(turn)
        if turn.error is not None:
            return played, turn.error
        history += [memory.Turn("user", question), memory.Turn("assistant", turn.answer)]
    return played, None


async def _one(
    calls: Calls,
    given: Setup,
    messages: list[dict[str, str]],
    question: str,
    json_mode: bool,
    max_tokens: int | None,
) -> TurnPlayed:
    options = calls.options(max_tokens, json_mode=json_mode)
    started = time.perf_counter()
    async with calls.sessionmaker.begin() as session:
        chosen = await calls.route(session, given.caller, category=given.category, text=question)
        if given.persona is not None:
            messages = personas.messages(given.persona, messages)
            chosen = await personas.pinned_route(
                session, given.persona, chosen, calls.providers.configured
            )
            options = personas.options(given.persona, options)
        turn = await calls.admit(
            session,
            given.caller,
            messages,
            replace(chosen, inputs=None),
            options,
            charge=given.charge,
        )
    asked = time.perf_counter()
    stream = await calls.open_stream(turn)
    parts: list[str] = []
    first: float | None = None
    end: End | None = None
    try:
        async for item in stream:
            if isinstance(item, End):
                end = item
                break
            if isinstance(item, str):
                first = first or time.perf_counter()
                parts.append(item)
    finally:
        stream.close()
    assert end is not None  # a stream always ends with End
    receipt = end.receipt
    first_target = turn.route.targets[0] if turn.route.targets else None
    answered = (receipt.provider, receipt.model) if receipt else None
    return TurnPlayed(
        question=question,
        answer="".join(parts),
        status=end.status,
        rule=turn.route.rule,
        provider=receipt.provider if receipt else None,
        model=receipt.model if receipt else None,
        tokens_in=receipt.tokens_in if receipt else 0,
        tokens_out=receipt.tokens_out if receipt else 0,
        cost=receipt.cost if receipt else 0,
        ttft_ms=(first - asked) * 1000 if first is not None else None,
        total_ms=(time.perf_counter() - started) * 1000,
        error=None if end.status == "completed" else end.error or end.status,
        fell_back=first_target is None or answered != (first_target.provider, first_target.model),
    )
