"""Model calls, whatever the entrypoint: admission, the provider call with fallback, the
reply as a stream or whole, and settlement (receipt, usage, ``UsageRecordedV1``).

An entrypoint (an HTTP router, the shell, an OpenAI-compatible API) parses its input and
renders the result; everything between is here, through the one ``Calls`` the app holds
(``CallsDep`` in a route, ``app.state.calls`` elsewhere):

    caller = Caller.of(principal)                        # who, with the request id
    options = calls.options(max_tokens, temperature=..., stop=(...))
    async with calls.sessionmaker.begin() as db:         # admission commits before the call
        chosen = await calls.route(db, caller, category=..., text=messages[-1]["content"])
        turn = await calls.admit(db, caller, messages, chosen, options)
    stream = await calls.open_stream(turn)               # 503 models-unavailable: no text
    try:
        async for item in stream:                        # str pieces, then one End
            ...                                          # End: receipt, finish_reason
    finally:
        stream.close()                                   # a reader gone stops the provider

or, for a whole answer, ``reply = await calls.ask(caller, messages, category=..., options=...)``
(routing, admission and ``complete``). A chat-session turn (context memory, the stored
question) is ``chat.send``; a free offline call ``calls.offline(caller, messages, options)``.
A caller's own model choice is a ``Route`` built by the entrypoint and given to ``admit``;
``Turn.reserved`` is what admission reserved (to hold against another budget, e.g. a key's).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_arcana.calls import admission
from vareon_arcana.calls.admission import Caller, Route, Turn
from vareon_arcana.calls.running import End, Reply, Run, Stream, ToolCall
from vareon_arcana.calls.settlement import Receipt
from vareon_arcana.errors import ModelsUnavailable
from vareon_arcana.providers import Message, Options, Providers
from vareon_arcana.settings import ArcanaSettings

__all__ = [
    "Caller",
    "Calls",
    "End",
    "Message",
    "Options",
    "Receipt",
    "Reply",
    "Route",
    "Stream",
    "ToolCall",
    "Turn",
]


class Calls:
    """What every call needs (settings, providers, the database) and the calls running."""

    def __init__(
        self,
        settings: ArcanaSettings,
        providers: Providers,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.sessionmaker = sessionmaker
        self._running: set[asyncio.Task[None]] = set()

    def options(self, max_tokens: int | None = None, **given: Any) -> Options:
        """Options with the configured output cap when the caller names none."""
        return Options(max_tokens=max_tokens or self.settings.max_output_tokens, **given)

    async def route(
        self, session: AsyncSession, caller: Caller, *, category: str | None, text: str
    ) -> Route:
        return await admission.route(
            session,
            self.providers,
            category=category,
            roles=caller.roles,
            text=text,
            budget_s=self.settings.routing_budget_s,
        )

    async def admit(
        self,
        session: AsyncSession,
        caller: Caller,
        messages: list[Message],
        chosen: Route,
        options: Options,
        *,
        session_id: uuid.UUID | None = None,
        charge: bool = True,
    ) -> Turn:
        """Reserve the call's maximum cost (402/403 when refused); only flushes: the call
        starts after the caller's transaction committed. ``charge=False``: no reservation,
        no usage record nor event (the receipt still carries what it would cost)."""
        return await admission.admit(
            session,
            caller,
            messages,
            chosen,
            options,
            session_id=session_id,
            reservation_ttl_s=self.settings.reservation_ttl_s,
            charge=charge,
        )

    def offline(self, caller: Caller, messages: list[Message], options: Options) -> Turn:
        return admission.offline(caller, messages, options)

    async def open_stream(self, turn: Turn) -> Stream:
        """Start the call; ModelsUnavailable (503) when every target failed before any text."""
        run = Run(turn, self).start()
        first = await run.next()
        if isinstance(first, End) and first.status == "unanswered":
            raise ModelsUnavailable(f"no model could answer: {first.error}")
        return Stream(run, first)

    async def complete(self, turn: Turn) -> Reply:
        return await (await self.open_stream(turn)).collect()

    async def ask(
        self,
        caller: Caller,
        messages: list[Message],
        *,
        category: str | None,
        options: Options,
    ) -> Reply:
        """One sessionless call: routed, admitted, answered with fallback, metered like chat."""
        async with self.sessionmaker.begin() as session:
            chosen = await self.route(
                session, caller, category=category, text=messages[-1]["content"]
            )
            turn = await self.admit(session, caller, messages, chosen, options)
        return await self.complete(turn)

    def configured_providers(self) -> dict[str, bool]:
        return {name: self.providers.configured(name) for name in self.settings.providers}

    def spawn(self, run: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(run)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def drain(self, timeout_s: float = 10.0) -> None:
        """At shutdown: let running calls settle (their readers are gone anyway)."""
        tasks = list(self._running)
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout_s)
