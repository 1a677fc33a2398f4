"""HTTP request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from vareon_contracts.events.cognisys import ModelTarget, RuleConditions
from vareon_routing import PRIORITY_MAX, PRIORITY_MIN, condition_errors
from vareon_routing.rules import MAX_TARGETS

MAX_WINDOW_DAYS = 31
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


class CreateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["create"]
    rule: RuleIn


class UpdateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["update"]
    rule_id: UUID
    changes: RulePatch


class DeleteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["delete"]
    rule_id: UUID


Change = Annotated[CreateChange | UpdateChange | DeleteChange, Field(discriminator="op")]


class DryRunIn(BaseModel):
    """Proposed changes (applied in order, in memory only) and the traffic window to replay."""

    model_config = ConfigDict(extra="forbid")

    changes: list[Change] = Field(default_factory=list, max_length=50)
    days: int = Field(default=7, ge=1, le=MAX_WINDOW_DAYS)
    """The window: the last ``days`` days up to ``until``."""
    until: AwareDatetime | None = None
    """The window's end (exclusive); now when omitted."""

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.until is not None and not 2000 <= self.until.year <= 9000:
            raise ValueError("until: must be between the years 2000 and 9000")
        return self


class SideOut(BaseModel):
    calls: int
    cost: int
    """Projected micro-credits: each call's recorded tokens at its first target's prices."""
    unmatched: int
    """Calls no rule but the default took."""
    no_route: int
    """Calls no rule took at all (no default)."""
    expected_fallbacks: float
    """Each call adds the fallback rate its first target showed in the window."""
    unobserved: int
    """Calls whose first target has no fallback rate in the window (never tried first)."""
    single_target: int
    """Calls routed to a rule with no fallback target."""


class RuleDryRun(BaseModel):
    rule_id: UUID
    """A created rule's id is made up for this answer only."""
    name: str
    change: Literal["unchanged", "created", "updated", "deleted"]
    current: SideOut
    proposed: SideOut
    moved_in: int
    moved_out: int
    retargeted: int
    """Calls that stay with the rule but would be answered by another first target."""


class FallbackRate(BaseModel):
    provider: str
    model: str
    tried_first: int
    fell_back: int


class DryRunOut(BaseModel):
    since: datetime
    until: datetime
    calls: int
    truncated: bool
    """More calls were in the window than a dry-run replays; the newest were used."""
    moved: int
    """Calls the proposal routes to another rule or another first target."""
    undetermined: int
    """Calls whose route depends on a keyword or pattern the rules did not have when the
    call was recorded (routed as if it did not match)."""
    recorded_cost: int
    """What the calls actually cost."""
    current: SideOut
    proposed: SideOut
    cost_difference: int
    """proposed.cost - current.cost."""
    rules: list[RuleDryRun]
    fallback_rates: list[FallbackRate]


class CognisysSummary(BaseModel):
    """Cognisys's section of the dashboard (``GET /summary``)."""

    scope: Literal["user", "platform"]
    rules: int
    enabled_rules: int
    samples_last_7_days: int | None = None
    """Platform scope only: calls a dry-run can replay."""
