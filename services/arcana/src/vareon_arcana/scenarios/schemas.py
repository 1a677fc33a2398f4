"""HTTP models of scenarios, their runs, results and comparisons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from vareon_chassis.validation import Int32

from vareon_arcana.scenarios import expectations

Text = Annotated[str, Field(min_length=1, max_length=2_000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Turns = Annotated[list[Annotated[str, Field(min_length=1, max_length=8_000)]], Field(max_length=10)]
MAX_CONVERSATIONS = 100
"""Per scenario, after templates are expanded."""


class Expect(BaseModel):
    """What a conversation must do; a field left out is not checked."""

    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(None, max_length=200)
    """The routing rule that chose the targets (every turn)."""
    model: str | None = Field(None, max_length=200)
    """The model that answered after fallbacks (every turn)."""
    max_cost: Annotated[int, Field(ge=0)] | None = None
    """Micro-credits (the wallet's unit, as in receipts) the whole conversation may cost."""
    max_ttft_ms: Annotated[float, Field(gt=0, le=3_600_000)] | None = None
    """Time to the first token of each turn, in milliseconds."""
    contains: Annotated[list[Text], Field(max_length=20)] = []
    """Text every one of which appears in the answers (case-insensitive)."""
    not_contains: Annotated[list[Text], Field(max_length=20)] = []
    """Text none of which appears in any answer (case-insensitive)."""
    json_shape: dict[str, Any] | None = None
    """The last answer is a JSON object of this shape: each key's value a type name
    (``string``, ``number``, ``integer``, ``boolean``, ``array``, ``object``, ``null``,
    ``any``), a nested shape, or ``[shape]`` for a list of such items."""

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.json_shape is not None:
            expectations.validate_shape(self.json_shape)
        return self


class Template(BaseModel):
    """Conversations made from turns with ``{variable}`` placeholders: one per combination
    of the variables' values."""

    model_config = ConfigDict(extra="forbid")

    turns: Annotated[Turns, Field(min_length=1)]
    variables: Annotated[
        dict[
            Annotated[str, Field(pattern=r"^\w{1,64}$")],
            Annotated[
                list[Annotated[str, Field(max_length=500)]],
                Field(min_length=1, max_length=MAX_CONVERSATIONS),
            ],
        ],
        Field(max_length=5),
    ] = {}


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    """Unique in its scenario: runs are compared by it (a template's get ``[var=value]``)."""
    turns: Turns = []
    """The user's turns, in order; each is answered before the next is asked."""
    template: Template | None = None
    json_mode: bool = False
    """Ask for one JSON object (``response_format``) on every turn."""
    max_tokens: Annotated[Int32, Field(ge=1, le=32_000)] | None = None
    expect: Expect = Expect()
    """Over the scenario's ``expect`` (fields given here win)."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if bool(self.turns) == (self.template is not None):
            raise ValueError("give either turns or a template")
        if self.template is not None:
            expectations.validate_template(self.template.turns, self.template.variables)
        return self


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    persona: str | None = Field(None, min_length=1, max_length=64)
    """A persona's slug (your own, else a shared one): its prompt, category or model, and
    sampling answer every turn."""
    category: str | None = Field(None, min_length=1, max_length=64)
    """Without a persona: the category routed on (default ``general``)."""
    expect: Expect = Expect()
    conversations: Annotated[list[Conversation], Field(min_length=1, max_length=MAX_CONVERSATIONS)]

    @model_validator(mode="after")
    def _names(self) -> Self:
        if self.persona is not None and self.category is not None:
            raise ValueError("give a persona or a category, not both")
        if sum(expectations.count(c) for c in self.conversations) > MAX_CONVERSATIONS:
            raise ValueError(f"at most {MAX_CONVERSATIONS} conversations once expanded")
        keys = [key for c in self.conversations for key, _ in expectations.expand(c)]
        if len(set(keys)) != len(keys):
            raise ValueError("conversation names must be unique")
        return self


class ScenarioOut(ScenarioSpec):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ScenarioPage(BaseModel):
    items: list[ScenarioOut]
    next_cursor: str | None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge: bool = False
    """True: the calls are charged to your wallet like any other (admission may refuse)."""


class Check(BaseModel):
    expectation: str
    passed: bool
    reason: str


class TurnOut(BaseModel):
    question: str
    answer: str
    status: str
    rule: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost: int
    ttft_ms: float | None
    total_ms: float
    error: str | None = None
    fell_back: bool = False
    """Another target than the route's first answered (or none did)."""


class ResultOut(BaseModel):
    position: int
    key: str
    passed: bool
    rule: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost: int
    ttft_ms: float | None
    total_ms: float
    checks: list[Check]
    turns: list[TurnOut]
    error: str | None


RunStatus = Literal["queued", "running", "completed", "cancelled"]


class RunOut(BaseModel):
    id: uuid.UUID
    scenario_id: uuid.UUID
    status: RunStatus
    charge: bool
    persona_version: int | None
    """The version of the scenario's persona it plays (fixed when it started)."""
    total: int
    done: int
    passed: int
    failed: int
    eta_s: float | None
    """Seconds left at the pace so far (None before the first conversation ends or after
    the run)."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results: list[ResultOut] = []


class RunPage(BaseModel):
    items: list[RunOut]


class Change(BaseModel):
    key: str
    change: Literal["same", "changed", "added", "removed"]
    """added: only in the second run; removed: only in the first."""
    differences: dict[str, dict[str, Any]]
    """Per field that differs: ``{"a": ..., "b": ...}`` (pass/fail, rule, model, each
    expectation's verdict; cost, tokens and times with their ``delta``)."""


class Comparison(BaseModel):
    a: uuid.UUID
    b: uuid.UUID
    persona_version: dict[str, int | None]
    passed: dict[str, int]
    """``{"a": n, "b": m}``"""
    cost: dict[str, int]
    conversations: list[Change]
