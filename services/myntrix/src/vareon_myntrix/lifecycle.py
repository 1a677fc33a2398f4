"""The agent lifecycle and the command lifecycle as explicit state machines (plain Python)."""

from __future__ import annotations

from enum import StrEnum


class AgentStatus(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


class AgentEvent(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    STARTED = "started"
    STOPPED = "stopped"
    FAILED = "failed"


class Action(StrEnum):
    """What a client may ask of many agents at once."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"


_AGENT: dict[tuple[AgentStatus, AgentEvent], AgentStatus] = {
    (AgentStatus.STOPPED, AgentEvent.START): AgentStatus.STARTING,
    (AgentStatus.FAILED, AgentEvent.START): AgentStatus.STARTING,
    (AgentStatus.RUNNING, AgentEvent.RESTART): AgentStatus.STARTING,
    (AgentStatus.FAILED, AgentEvent.RESTART): AgentStatus.STARTING,
    (AgentStatus.STARTING, AgentEvent.STARTED): AgentStatus.RUNNING,
    (AgentStatus.STARTING, AgentEvent.STOP): AgentStatus.STOPPING,
    (AgentStatus.RUNNING, AgentEvent.STOP): AgentStatus.STOPPING,
    (AgentStatus.STOPPING, AgentEvent.STOPPED): AgentStatus.STOPPED,
    (AgentStatus.STARTING, AgentEvent.FAILED): AgentStatus.FAILED,
    (AgentStatus.RUNNING, AgentEvent.FAILED): AgentStatus.FAILED,
    (AgentStatus.STOPPING, AgentEvent.FAILED): AgentStatus.FAILED,
}

DELETABLE = frozenset({AgentStatus.STOPPED, AgentStatus.FAILED})


class IllegalTransition(Exception):
    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"cannot {event} an agent that is {status}")
        self.status = status
        self.event = event


def next_status(status: str, event: str) -> AgentStatus:
    """The status after ``event``; raises IllegalTransition when the machine forbids it."""
    try:
        return _AGENT[(AgentStatus(status), AgentEvent(event))]
    except (KeyError, ValueError):
        raise IllegalTransition(status, event) from None


def outcome_event(action: str, succeeded: bool) -> AgentEvent:
    """What a finished command means for its agent."""
    if not succeeded:
        return AgentEvent.FAILED
    return AgentEvent.STOPPED if action == Action.STOP else AgentEvent.STARTED


class CommandState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


_ORDER = [CommandState.QUEUED, CommandState.SENT, CommandState.ACKNOWLEDGED]
FINAL = frozenset({CommandState.SUCCEEDED, CommandState.FAILED, CommandState.EXPIRED})
OPEN = frozenset(_ORDER)


def command_can_move(current: str, new: str) -> bool:
    """Commands only move forward: queued -> sent -> acknowledged -> a final state."""
    cur, nxt = CommandState(current), CommandState(new)
    if cur in FINAL:
        return False
    if nxt in FINAL:
        return True
    return _ORDER.index(nxt) > _ORDER.index(cur)
