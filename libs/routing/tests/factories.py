from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from vareon_contracts.events.cognisys import ModelTarget, RuleConditions
from vareon_routing import RoutingRequest, RoutingRule

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TARGET = ModelTarget(
    provider="openai", model="gpt-x", input_price_per_1k=10, output_price_per_1k=30
)
FALLBACK = ModelTarget(
    provider="offline", model="vareon-offline-1", input_price_per_1k=0, output_price_per_1k=0
)


def rule(
    priority: int = 10,
    *,
    rule_id: uuid.UUID | None = None,
    enabled: bool = True,
    is_default: bool = False,
    targets: tuple[ModelTarget, ...] = (TARGET,),
    **conditions: Any,
) -> RoutingRule:
    return RoutingRule(
        rule_id=rule_id or uuid.uuid4(),
        name=f"rule-{priority}",
        priority=priority,
        conditions=RuleConditions(**conditions),
        targets=targets,
        enabled=enabled,
        is_default=is_default,
    )


def default_rule() -> RoutingRule:
    return rule(0, is_default=True, targets=(FALLBACK,))


def request(
    text: str = "hello",
    *,
    category: str | None = "general",
    roles: tuple[str, ...] = ("user",),
    now: datetime = NOON,
) -> RoutingRequest:
    return RoutingRequest(category=category, roles=frozenset(roles), text=text, now=now)
