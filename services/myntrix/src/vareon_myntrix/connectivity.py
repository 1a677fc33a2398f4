"""Connectivity is derived from the server's clock, never reported by a device."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Connectivity(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class AdminState(StrEnum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


def derive(
    last_heartbeat_at: datetime | None, timeout_s: float, now: datetime, degraded_after_ratio: float
) -> Connectivity:
    """``last_heartbeat_at`` is when the server accepted the last heartbeat (its own clock)."""
    if last_heartbeat_at is None:
        return Connectivity.OFFLINE
    age = (now - last_heartbeat_at).total_seconds()
    if age > timeout_s:
        return Connectivity.OFFLINE
    if age > timeout_s * degraded_after_ratio:
        return Connectivity.DEGRADED
    return Connectivity.ONLINE


def reachable(connectivity: Connectivity) -> bool:
    """What the went-offline / came-online events track (degraded is still reachable)."""
    return connectivity is not Connectivity.OFFLINE
