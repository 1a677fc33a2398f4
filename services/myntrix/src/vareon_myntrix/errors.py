"""Myntrix's problem types (RFC 9457), rendered by the chassis."""

from __future__ import annotations

from typing import Any

from vareon_chassis.errors import PROBLEM_BASE, Conflict, DomainError, NotFound


class AgentNotFound(NotFound):
    type = PROBLEM_BASE + "agent-not-found"
    title = "Agent not found"


class CommandNotFound(NotFound):
    type = PROBLEM_BASE + "command-not-found"
    title = "Command not found"


class DeviceNotFound(NotFound):
    type = PROBLEM_BASE + "device-not-found"
    title = "Device not found"


class DeploymentNotFound(NotFound):
    type = PROBLEM_BASE + "deployment-not-found"
    title = "Deployment not found"


class IllegalAgentTransition(Conflict):
    type = PROBLEM_BASE + "illegal-agent-transition"
    title = "Illegal agent transition"


class IllegalCommandTransition(Conflict):
    type = PROBLEM_BASE + "illegal-command-transition"
    title = "Illegal command transition"


class IdempotencyKeyReused(Conflict):
    type = PROBLEM_BASE + "idempotency-key-reused"
    title = "Idempotency key reused for another action"


class DeploymentFinished(Conflict):
    type = PROBLEM_BASE + "deployment-finished"
    title = "Deployment already finished"


class DeploymentConflict(Conflict):
    type = PROBLEM_BASE + "deployment-conflict"
    title = "Device already in an active deployment of this model"


class NothingToRollBack(Conflict):
    type = PROBLEM_BASE + "nothing-to-roll-back"
    title = "Nothing to roll back"


class _Unprocessable(DomainError):
    status = 422


class InvalidConfiguration(_Unprocessable):
    type = PROBLEM_BASE + "invalid-agent-configuration"
    title = "Invalid agent configuration"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("the configuration does not fit the agent's kind", errors=errors)


class UnknownModelVersion(_Unprocessable):
    type = PROBLEM_BASE + "unknown-model-version"
    title = "Unknown model version"


class UnknownDevices(_Unprocessable):
    type = PROBLEM_BASE + "unknown-devices"
    title = "Unknown devices"


class StaleClock(_Unprocessable):
    type = PROBLEM_BASE + "heartbeat-from-the-future"
    title = "Heartbeat dated in the future"


class DeviceUnauthorized(DomainError):
    type = PROBLEM_BASE + "device-unauthorized"
    title = "Device credential required"
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Device"})


class DeviceRetired(DomainError):
    type = PROBLEM_BASE + "device-retired"
    title = "Device retired"
    status = 403


class NoEligibleDevice(_Unprocessable):
    type = PROBLEM_BASE + "no-eligible-device"
    title = "No eligible device"


class RequesterNotPermitted(DomainError):
    type = PROBLEM_BASE + "requester-not-permitted"
    title = "Requester lacks the permission"
    status = 403
