"""One chat turn: prepare (route, admit, store the question), call, settle (receipt, usage).

The provider call runs in its own task that feeds a queue; the HTTP response only reads the
queue. When the client goes away the response stops the task, which closes the provider
stream and still settles: what was produced is stored and charged, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_contracts.events.arcana import UsageRecordedV1
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing import MATCH_BUDGET_S, NoRoute, RoutingRequest, choose

from vareon_arcana import credits, memory, pricing, replicas, sessions, tokens
from vareon_arcana.errors import EmailNotVerified
from vareon_arcana.fallback import Broken, Unanswered, answer
from vareon_arcana.models import OUTBOX, ChatSession, Message, UsageRecord
from vareon_arcana.providers import OFFLINE, Providers, Text
from vareon_arcana.settings import ArcanaSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Route:
    rule: str | None
    targets: list[ModelTarget]


async def route(
    session: AsyncSession,
    providers: Providers,
    *,
    category: str | None,
    roles: frozenset[str],
    text: str,
    budget_s: float = MATCH_BUDGET_S,
) -> Route:
    """The local rule replica decides; targets without a configured provider are skipped.

    Rule patterns run in a thread under one budget per request (a slow pattern would
    otherwise stall every request this process serves)."""
    rules = await replicas.rules(session)
    asked = RoutingRequest(category=category, roles=roles, text=text, now=datetime.now(UTC))
    try:
        decision = await asyncio.to_thread(choose, rules, asked, budget_s=budget_s)
    except NoRoute:
        return Route(None, [OFFLINE])
    usable = [t for t in decision.targets if providers.configured(t.provider)]
    return Route(decision.rule.name, usable or [OFFLINE])


@dataclass
class Turn:
    """What an admitted call needs after its preparing transaction committed."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    messages: list[dict[str, str]]
    route: Route
    max_tokens: int
    prompt_tokens: int
    reservation_id: uuid.UUID | None
    request_id: str | None = None
    json_mode: bool = False


async def prepare(
    session: AsyncSession,
    settings: ArcanaSettings,
    providers: Providers,
    *,
    user_id: uuid.UUID,
    roles: frozenset[str],
    email_verified: bool,
    session_id: uuid.UUID,
    content: str,
    max_tokens: int,
) -> Turn:
    chat = await sessions.owned(session, user_id, session_id, for_update=True)
    past = list(
        await session.scalars(
            select(Message)
            .where(Message.session_id == chat.id, Message.seq > chat.folded_seq)
            .order_by(Message.seq)
        )
    )
    context = memory.build(
        chat.summary,
        list(chat.facts),
        [memory.Turn(m.role, m.content) for m in past],
        content,
        memory_budget=settings.memory_token_budget,
        history_budget=settings.history_token_budget,
    )
    turn = await admit(
        session,
        settings,
        providers,
        user_id=user_id,
        roles=roles,
        email_verified=email_verified,
        category=chat.category,
        messages=context.messages,
        max_tokens=max_tokens,
        session_id=chat.id,
    )
    if context.dropped:
        chat.summary = memory.fold(chat.summary, context.dropped, settings.memory_token_budget)
        chat.folded_seq = past[len(context.dropped) - 1].seq
    chat.facts = memory.remember(list(chat.facts), content)
    session.add(Message(id=uuid.uuid4(), session_id=chat.id, role="user", content=content))
    await session.flush()
    return turn


async def admit(
    session: AsyncSession,
    settings: ArcanaSettings,
    providers: Providers,
    *,
    user_id: uuid.UUID,
    roles: frozenset[str],
    email_verified: bool,
    category: str | None,
    messages: list[dict[str, str]],
    max_tokens: int,
    session_id: uuid.UUID | None,
) -> Turn:
    chosen = await route(
        session,
        providers,
        category=category,
        roles=roles,
        text=messages[-1]["content"],
        budget_s=settings.routing_budget_s,
    )
    prompt_tokens = tokens.count_messages(messages)
    amount = pricing.maximum_cost(chosen.targets, prompt_tokens, max_tokens)
    if amount > 0 and not email_verified:
        raise EmailNotVerified("verify your email address to use paid models")
    reservation = await credits.admit(session, user_id, amount, ttl_s=settings.reservation_ttl_s)
    return Turn(user_id, session_id, messages, chosen, max_tokens, prompt_tokens, reservation)


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
class End:
    status: str
    """completed, failed (broke mid-stream), disconnected, or unanswered (nothing produced)."""
    receipt: Receipt | None
    error: str | None = None


@dataclass
class Call:
    turn: Turn
    providers: Providers
    sessionmaker: async_sessionmaker[AsyncSession]
    retry_after_cap_s: float
    store_reply: bool = True
    queue: asyncio.Queue[str | End] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    streaming: bool = True
    ended: bool = False
    reservation_ttl_s: float = 600.0

    def start(self, registry: set[asyncio.Task[None]]) -> Call:
        self.task = asyncio.create_task(self._run())
        registry.add(self.task)
        self.task.add_done_callback(registry.discard)
        return self

    def stop(self) -> None:
        """The client left: end the provider call (settling still runs)."""
        if self.task is not None and self.streaming and not self.task.done():
            self.task.cancel()

    async def next(self) -> str | End:
        item = await self.queue.get()
        if isinstance(item, End):
            self.ended = True
        return item

    async def _keep_reserved(self) -> None:
        """A call may outlive its reservation's TTL: extend it while the call runs."""
        every = max(self.reservation_ttl_s / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                async with self.sessionmaker.begin() as session:
                    await credits.extend(
                        session, self.turn.reservation_id, ttl_s=self.reservation_ttl_s
                    )
            except Exception as exc:  # the next round tries again; the TTL is the backstop
                log.warning("extending a reservation failed", error=repr(exc))

    async def _run(self) -> None:
        target: ModelTarget | None = None
        parts: list[str] = []
        usage = None
        status, error = "completed", None
        keeper = None
        if self.turn.reservation_id is not None:
            keeper = asyncio.create_task(self._keep_reserved())
        try:
            async for answering, piece in answer(
                self.providers,
                self.turn.route.targets,
                self.turn.messages,
                self.turn.max_tokens,
                retry_after_cap_s=self.retry_after_cap_s,
                json_mode=self.turn.json_mode,
            ):
                target = answering
                if isinstance(piece, Text):
                    parts.append(piece.text)
                    self.queue.put_nowait(piece.text)
                else:
                    usage = piece
        except asyncio.CancelledError:
            status = "disconnected"
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except Unanswered as exc:
            status, error, target = "unanswered", str(exc), None
        except Broken as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # any other failure on the SDK path must still settle
            log.exception("the model call failed unexpectedly")
            status = "failed" if parts else "unanswered"
            error = f"the model call failed: {type(exc).__name__}"
            if not parts:
                target = None
        finally:
            if keeper is not None:
                keeper.cancel()
        self.streaming = False
        receipt = None
        try:
            receipt = await self._settle(
                target if parts or usage else None, "".join(parts), usage, status
            )
        except Exception as exc:  # the client must still get an end event
            log.exception("settling a chat call failed")
            status, error = "failed", f"could not record the answer: {type(exc).__name__}"
        self.queue.put_nowait(End(status, receipt, error))

    async def _settle(
        self, target: ModelTarget | None, text: str, usage: object, status: str
    ) -> Receipt | None:
        turn = self.turn
        async with self.sessionmaker.begin() as session:
            await credits.release(session, turn.reservation_id)
            if target is None:
                return None
            tokens_in = getattr(usage, "tokens_in", None) or turn.prompt_tokens
            tokens_out = getattr(usage, "tokens_out", None)
            if tokens_out is None:
                tokens_out = tokens.count(text)
            cost = pricing.cost(target, tokens_in, tokens_out)
            usage_id = uuid.uuid4() if cost > 0 else None
            message_id = None
            chat = (
                await session.get(ChatSession, turn.session_id)
                if turn.session_id and self.store_reply
                else None
            )
            if chat is not None:
                message_id = uuid.uuid4()
                session.add(
                    Message(
                        id=message_id,
                        session_id=chat.id,
                        role="assistant",
                        content=text,
                        status=status,
                        provider=target.provider,
                        model=target.model,
                        tokens_in=tokens_in,
                        tokens_out=tokens_out,
                        cost=cost,
                        usage_id=usage_id,
                    )
                )
                chat.updated_at = datetime.now(UTC)
            if usage_id is not None:
                seq = await credits.next_usage_seq(session, turn.user_id)
                session.add(
                    UsageRecord(
                        id=usage_id,
                        seq=seq,
                        user_id=turn.user_id,
                        session_id=turn.session_id,
                        provider=target.provider,
                        model=target.model,
                        tokens_in=tokens_in,
                        tokens_out=tokens_out,
                        cost=cost,
                    )
                )
                await session.flush()
                await OUTBOX.publish(
                    session,
                    UsageRecordedV1(
                        usage_id=usage_id,
                        user_id=turn.user_id,
                        session_id=turn.session_id,
                        request_id=turn.request_id,
                        provider=target.provider,
                        model=target.model,
                        tokens_in=tokens_in,
                        tokens_out=tokens_out,
                        cost=cost,
                        recorded_at=datetime.now(UTC),
                        seq=seq,
                    ),
                )
            return Receipt(
                message_id,
                usage_id,
                target.provider,
                target.model,
                tokens_in,
                tokens_out,
                cost,
                status,
            )


async def drain(registry: set[asyncio.Task[None]], timeout_s: float = 10.0) -> None:
    """At shutdown: let running calls settle (their clients are gone anyway)."""
    tasks = list(registry)
    if tasks:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout_s)
