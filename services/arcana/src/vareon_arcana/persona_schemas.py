"""HTTP models of personas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from vareon_chassis.validation import Int32

SLUG = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=SLUG)]
Visibility = Literal["private", "shared"]
Starters = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=500)]], Field(max_length=10)
]
Temperature = Annotated[float, Field(ge=0, le=2)]
MaxTokens = Annotated[Int32, Field(ge=1, le=32_000)]


class PersonaFields(BaseModel):
    """What a version holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2_000)
    system_prompt: str = Field(min_length=1, max_length=20_000)
    category: str = Field("general", min_length=1, max_length=64)
    """Routed through the rules like any call in this category."""
    model: str | None = Field(None, min_length=1, max_length=200)
    """A model a routing rule's targets name, answering first (the category's targets after
    it); None: the category's rule decides."""
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    """The most a reply may have (the caller may ask for fewer)."""
    starters: Starters = []
    """Suggested first messages."""


class PersonaCreate(PersonaFields):
    slug: Slug
    """``persona:<slug>`` names it: the caller's own first, then a shared one."""
    visibility: Visibility = "private"


class PersonaPatch(BaseModel):
    """Fields given change (a new version when a versioned field changes); none may be null
    except ``model``, ``temperature`` and ``max_tokens`` (back to the defaults)."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    visibility: Visibility | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2_000)
    system_prompt: str | None = Field(None, min_length=1, max_length=20_000)
    category: str | None = Field(None, min_length=1, max_length=64)
    model: str | None = Field(None, min_length=1, max_length=200)
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    starters: Starters | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nullable = {"model", "temperature", "max_tokens"}
        nulls = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in nullable
        )
        if nulls:
            raise ValueError(f"fields cannot be null: {', '.join(nulls)}")
        return self

    def version_changes(self) -> dict[str, Any]:
        return {
            f: getattr(self, f) for f in self.model_fields_set if f not in ("slug", "visibility")
        }


class PersonaVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    name: str
    description: str
    system_prompt: str
    category: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    starters: list[str]
    created_at: datetime


class PersonaOut(BaseModel):
    """A persona with its current version's fields."""

    id: uuid.UUID
    slug: str
    visibility: Visibility
    owner_id: uuid.UUID
    mine: bool
    version: int
    name: str
    description: str
    system_prompt: str
    category: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    starters: list[str]
    created_at: datetime
    updated_at: datetime


class PersonaPage(BaseModel):
    items: list[PersonaOut]
    next_cursor: str | None


class PersonaVersionPage(BaseModel):
    items: list[PersonaVersionOut]


class PersonaSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)


class PersonaSessionOut(BaseModel):
    session_id: uuid.UUID
    persona_id: uuid.UUID
    version: int
    category: str
    title: str
    starters: list[str]
