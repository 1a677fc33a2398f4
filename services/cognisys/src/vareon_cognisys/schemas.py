"""HTTP request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from vareon_contracts.events.cognisys import ModelTarget, RuleConditions
from vareon_routing import PRIORITY_MAX, PRIORITY_MIN, condition_errors
from vareon_routing.rules import MAX_TARGETS

Name = Annotated[str, Field(min_length=1, max_length=200)]
Priority = Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)]


class ConditionsIn(RuleConditions):
    """The contract's conditions, read strictly (an unknown field is a client's mistake)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        errors = condition_errors(self)
        if errors:
            raise ValueError("; ".join(errors))
        return self


class TargetIn(ModelTarget):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1, max_length=100)
    model: str = Field(min_length=1, max_length=200)


Targets = Annotated[list[TargetIn], Field(min_length=1, max_length=MAX_TARGETS)]


class RuleIn(BaseModel):
    """A whole rule: the body of POST and of PUT."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    priority: Priority
    enabled: bool = True
    conditions: ConditionsIn = Field(default_factory=ConditionsIn)
    targets: Targets


class RulePatch(BaseModel):
    """Only the fields given change; none of them may be null."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    priority: Priority | None = None
    enabled: bool | None = None
    conditions: ConditionsIn | None = None
    targets: Targets | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"fields cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.model_fields_set}


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    priority: int
    enabled: bool
    is_default: bool
    conditions: RuleConditions
    targets: list[ModelTarget]
    revision: int
    created_at: datetime
    updated_at: datetime


class RulePage(BaseModel):
    items: list[RuleOut]
    next_cursor: str | None


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)
    category: str | None = Field(default=None, max_length=100)
    roles: list[str] | None = Field(default=None, max_length=50)
    """Roles to evaluate as (only for callers holding ``routing:write``; ignored otherwise);
    the caller's own roles when omitted."""
    now: AwareDatetime | None = None
    """The moment to evaluate at (time windows are UTC); the current time when omitted."""


class RuleRef(BaseModel):
    id: UUID
    name: str
    priority: int
    is_default: bool
    revision: int


class ReasonOut(BaseModel):
    condition: str
    held: bool
    detail: str


class PassedOver(BaseModel):
    rule: RuleRef
    reasons: list[ReasonOut]


class Evaluation(BaseModel):
    rule: RuleRef
    targets: list[ModelTarget]
    """In order: the first is tried first, the rest are fallbacks."""
    used_default: bool
    reasons: list[ReasonOut]
    """Why the chosen rule matched."""
    passed_over: list[PassedOver]
    """Rules tried first, in evaluation order, each with the condition that failed."""
    timed_out: bool
    """Some rule's pattern ran out of time (it counted as no match)."""
    category: str | None
    roles: list[str]
    now: datetime
