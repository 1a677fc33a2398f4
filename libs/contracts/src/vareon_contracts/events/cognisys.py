"""Events published by cognisys: routing rules as full state, keyed by rule id."""

from datetime import datetime, time
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


class ModelTarget(BaseModel):
    """One provider/model choice; prices in integer micro-credits per 1,000 tokens."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    provider: str
    model: str
    input_price_per_1k: int = Field(ge=0)
    output_price_per_1k: int = Field(ge=0)


class RuleConditions(BaseModel):
    """All given conditions must hold; an empty list or None means "any"."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    categories: list[str] = []
    roles: list[str] = []
    min_length: int | None = None
    max_length: int | None = None
    keywords: list[str] = []
    pattern: str | None = None
    active_from: time | None = None
    """Start of a daily UTC time window (inclusive); wraps past midnight when after until."""
    active_until: time | None = None


@register
class RoutingRuleChangedV1(EventPayload):
    """A rule's full state after any change; ``deleted`` marks a tombstone.

    A consumer rebuilds every rule by keeping the highest ``revision`` per ``rule_id``.
    """

    event_type = "vareon.cognisys.routing-rule.changed.v1"
    topic = topics.COGNISYS_ROUTING_RULE
    key_field = "rule_id"

    rule_id: UUID
    revision: int
    name: str
    priority: int
    enabled: bool
    is_default: bool
    conditions: RuleConditions
    targets: list[ModelTarget]
    deleted: bool = False
    changed_at: datetime
