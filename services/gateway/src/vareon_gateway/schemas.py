"""The gateway's own HTTP models (the dashboard); everything else it proxies unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

SectionStatus = Literal["ok", "timeout", "unavailable", "forbidden", "error"]


class Section(BaseModel):
    status: SectionStatus
    latency_ms: float
    data: dict[str, Any] | None = None
    """The service's summary as it answered it (None unless ``ok``)."""
    detail: str | None = None


class Activity(BaseModel):
    service: str
    kind: str
    id: str
    title: str
    at: datetime


class Dashboard(BaseModel):
    view: Literal["user", "admin"]
    status: Literal["ok", "partial"]
    """partial: at least one section is not ``ok``."""
    generated_at: datetime
    sections: dict[str, Section]
    recent_activity: list[Activity]
    """The newest items the sections list, across services (user view)."""
    health: dict[str, Any] | None = None
    """Admin view: each service's readiness, version, uptime and messaging."""
