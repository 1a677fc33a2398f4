"""Who calls, which targets answer, and whether the caller's credits cover the call.

Admission builds a complete, immutable ``Turn``: everything the call needs after the
transaction that admitted it (and reserved its maximum cost) has committed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal
from vareon_chassis.context import request_id_var
from vareon_contracts.events.cognisys import ModelTarget
from vareon_routing import MATCH_BUDGET_S, RoutingRequest

from vareon_arcana import credits, pricing, replicas, routing_samples, tokens
from vareon_arcana.errors import EmailNotVerified
from vareon_arcana.providers import OFFLINE, Message, Options, Providers
from vareon_arcana.routing_samples import RoutingInputs

NOBODY = uuid.UUID(int=0)


@dataclass(frozen=True)
class Caller:
    """Who a call is for, as the entrypoint authenticated them."""

    user_id: uuid.UUID
    roles: frozenset[str]
    permissions: frozenset[str]
    verified: bool
    """The email address is verified: paid models need it."""
    request_id: str | None = None
    api_key_id: uuid.UUID | None = None
    """Set when the caller authenticated with an API key rather than a user token."""
    persona: str | None = None

    @classmethod
    def of(
        cls,
        principal: Principal,
        *,
        api_key_id: uuid.UUID | None = None,
        persona: str | None = None,
    ) -> Caller:
        """The caller of the current request (its request id from the request context)."""
        return cls(
            user_id=principal.id,
            roles=frozenset(principal.roles),
            permissions=principal.permissions,
            verified=principal.email_verified,
            request_id=request_id_var.get(),
            api_key_id=api_key_id,
            persona=persona,
        )

    @classmethod
    def anonymous(cls) -> Caller:
        """Nobody in particular: only free (offline) calls, never recorded."""
        return cls(NOBODY, frozenset(), frozenset(), False, request_id_var.get())

    @property
    def is_anonymous(self) -> bool:
        return self.user_id == NOBODY


@dataclass(frozen=True)
class Route:
    rule: str | None
    targets: list[ModelTarget]
    inputs: RoutingInputs | None = None
    """What the rules read, recorded as a routing sample at settlement (routed calls only)."""


@dataclass(frozen=True)
class Turn:
    """An admitted call: built complete by admission, never changed afterwards."""

    caller: Caller
    session_id: uuid.UUID | None
    """The chat session the reply is stored in; None for a sessionless call."""
    messages: list[Message]
    route: Route
    options: Options
    prompt_tokens: int
    reservation_id: uuid.UUID | None
    reserved: int = 0
    """The micro-credits reserved: the call's maximum cost (0 for a free call)."""
    reply_id: uuid.UUID | None = None
    """A chat turn's assistant message id, known before it is stored (streams name it)."""
    parent_id: uuid.UUID | None = None
    """The message a chat turn's reply answers (its parent in the session's tree)."""
    charged: bool = True
    """False: nothing reserved nor charged (a synthetic test run); the receipt still prices it."""


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
    decision, inputs = await asyncio.to_thread(
        routing_samples.choose_and_observe, rules, asked, budget_s
    )
    if decision is None:
        return Route(None, [OFFLINE], inputs)
    usable = [t for t in decision.targets if providers.configured(t.provider)]
    return Route(decision.rule.name, usable or [OFFLINE], inputs)


async def admit(
    session: AsyncSession,
    caller: Caller,
    messages: list[Message],
    chosen: Route,
    options: Options,
    *,
    session_id: uuid.UUID | None,
    reservation_ttl_s: int,
    charge: bool = True,
) -> Turn:
    """Reserve the call's maximum cost on the most expensive target (402 when it does not
    fit, 403 for a paid call of an unverified caller). Only flushes."""
    prompt_tokens = tokens.count_prompt(messages, options.tools)
    amount = pricing.maximum_cost(chosen.targets, prompt_tokens, options.max_tokens)
    if amount > 0 and not caller.verified:
        raise EmailNotVerified("verify your email address to use paid models")
    reservation = (
        await credits.admit(session, caller.user_id, amount, ttl_s=reservation_ttl_s)
        if charge
        else None
    )
    return Turn(
        caller,
        session_id,
        messages,
        chosen,
        options,
        prompt_tokens,
        reservation,
        amount if reservation is not None else 0,
        charged=charge,
    )


def offline(caller: Caller, messages: list[Message], options: Options) -> Turn:
    """A free call to the offline model: no routing, no reservation, nothing stored."""
    prompt_tokens = tokens.count_messages(messages)
    return Turn(caller, None, messages, Route(None, [OFFLINE]), options, prompt_tokens, None)
