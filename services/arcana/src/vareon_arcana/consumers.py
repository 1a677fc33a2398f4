"""Event handlers: cognisys' rules and the wallet's balances feed replicas; identity erases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_chassis.messaging.consumer import DeadLetter
from vareon_contracts import Envelope, topics
from vareon_contracts.events.cognisys import RoutingRuleChangedV1
from vareon_contracts.events.identity import UserDeletedV1
from vareon_contracts.events.wallet import BalanceChangedV1
from vareon_routing import InvalidRule, RoutingRule

from vareon_arcana import personas, replicas, routing_samples, sessions
from vareon_arcana.scenarios import catalog as scenarios


def build_consumers() -> list[EventConsumer]:
    rules = EventConsumer(name="arcana.routing-rules", topics=(topics.COGNISYS_ROUTING_RULE,))
    balances = EventConsumer(name="arcana.balances", topics=(topics.WALLET_BALANCE,))
    users = EventConsumer(name="arcana.users", topics=(topics.IDENTITY_USER,))

    @rules.on(RoutingRuleChangedV1)
    async def rule_changed(
        session: AsyncSession, event: RoutingRuleChangedV1, envelope: Envelope
    ) -> None:
        if not event.deleted:
            try:
                RoutingRule.from_event(event)
            except InvalidRule as exc:
                raise DeadLetter(f"rule {event.rule_id} r{event.revision}: {exc}") from exc
        await replicas.apply_rule(session, event)

    @balances.on(BalanceChangedV1)
    async def balance_changed(
        session: AsyncSession, event: BalanceChangedV1, envelope: Envelope
    ) -> None:
        await replicas.apply_balance(session, event, envelope.time)

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await sessions.erase_user(session, event.user_id)
        await replicas.forget_balance(session, event.user_id)
        await routing_samples.erase_user(session, event.user_id)
        await personas.erase_user(session, event.user_id)
        await scenarios.erase_user(session, event.user_id)

    return [rules, balances, users]
