"""The staged rollout of a model version over devices, as a pure state machine.

``advance(plan, targets, reports, now)`` looks at where each device is and returns what to do
next; the caller applies the actions in one transaction. Nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from vareon_myntrix.connectivity import AdminState, Connectivity


class DeploymentState(StrEnum):
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"


class TargetState(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Plan:
    model_name: str
    version: int
    state: DeploymentState
    batch_size: int
    pause_s: float
    failure_threshold: float
    """Abort once failed / eligible devices is above this ratio."""
    device_timeout_s: float
    next_batch_at: datetime | None = None


@dataclass(frozen=True)
class Target:
    device_id: UUID
    position: int
    state: TargetState
    started_at: datetime | None = None


@dataclass(frozen=True)
class DeviceReport:
    running_version: int | None
    """The version of the plan's model the device said it runs in its last heartbeat."""
    connectivity: Connectivity
    admin_state: AdminState
    pinned_version: int | None = None


@dataclass(frozen=True)
class Start:
    device_id: UUID


@dataclass(frozen=True)
class Succeed:
    device_id: UUID


@dataclass(frozen=True)
class Fail:
    device_id: UUID
    reason: str


@dataclass(frozen=True)
class Skip:
    device_id: UUID
    reason: str


@dataclass(frozen=True)
class Cancel:
    device_id: UUID


@dataclass(frozen=True)
class WaitUntil:
    at: datetime


@dataclass(frozen=True)
class Finish:
    state: DeploymentState
    reason: str | None = None


RolloutAction = Start | Succeed | Fail | Skip | Cancel | WaitUntil | Finish
TERMINAL = frozenset({DeploymentState.SUCCEEDED, DeploymentState.FAILED, DeploymentState.ABORTED})


def skip_reason(report: DeviceReport, version: int) -> str | None:
    """Why a device cannot take ``version`` now, or None when it can."""
    if report.admin_state is not AdminState.ACTIVE:
        return str(report.admin_state)
    if report.connectivity is Connectivity.OFFLINE:
        return "offline"
    if report.pinned_version is not None and report.pinned_version != version:
        return "pinned"
    return None


def advance(
    plan: Plan, targets: Sequence[Target], reports: Mapping[UUID, DeviceReport], now: datetime
) -> list[RolloutAction]:
    if plan.state in TERMINAL:
        return []
    actions: list[RolloutAction] = []
    state = {t.device_id: t.state for t in targets}
    timeout = timedelta(seconds=plan.device_timeout_s)
    batch_was_running = False
    for t in targets:
        if t.state is not TargetState.IN_PROGRESS:
            continue
        batch_was_running = True
        report = reports[t.device_id]
        if report.running_version == plan.version:
            actions.append(Succeed(t.device_id))
            state[t.device_id] = TargetState.SUCCEEDED
        elif t.started_at is not None and now - t.started_at > timeout:
            actions.append(Fail(t.device_id, "timeout"))
            state[t.device_id] = TargetState.FAILED

    if _over_threshold(plan, state):
        return actions + _stop(targets, state, "failure threshold exceeded")
    if any(s is TargetState.IN_PROGRESS for s in state.values()):
        return actions
    pending = [
        t
        for t in sorted(targets, key=lambda t: t.position)
        if state[t.device_id] is TargetState.PENDING
    ]
    if not pending:
        return [*actions, _finish(state)]
    if batch_was_running and plan.pause_s > 0:
        return [*actions, WaitUntil(now + timedelta(seconds=plan.pause_s))]
    if plan.next_batch_at is not None and now < plan.next_batch_at:
        return actions

    started = 0
    for t in pending:
        report = reports[t.device_id]
        reason = skip_reason(report, plan.version)
        if reason is not None:
            actions.append(Skip(t.device_id, reason))
            state[t.device_id] = TargetState.SKIPPED
        elif report.running_version == plan.version:
            actions.append(Succeed(t.device_id))
            state[t.device_id] = TargetState.SUCCEEDED
        else:
            actions.append(Start(t.device_id))
            state[t.device_id] = TargetState.IN_PROGRESS
            started += 1
            if started == plan.batch_size:
                break
    if not any(s in (TargetState.PENDING, TargetState.IN_PROGRESS) for s in state.values()):
        actions.append(_finish(state))
    return actions


def _over_threshold(plan: Plan, state: Mapping[UUID, TargetState]) -> bool:
    eligible = sum(s is not TargetState.SKIPPED for s in state.values())
    failed = sum(s is TargetState.FAILED for s in state.values())
    return eligible > 0 and failed / eligible > plan.failure_threshold


def _finish(state: Mapping[UUID, TargetState]) -> Finish:
    if not any(s is TargetState.SUCCEEDED for s in state.values()):
        return Finish(DeploymentState.FAILED, "no device took the version")
    return Finish(DeploymentState.SUCCEEDED)


def _stop(
    targets: Sequence[Target], state: Mapping[UUID, TargetState], reason: str
) -> list[RolloutAction]:
    cancels: list[RolloutAction] = [
        Cancel(t.device_id)
        for t in targets
        if state[t.device_id] in (TargetState.PENDING, TargetState.IN_PROGRESS)
    ]
    return [*cancels, Finish(DeploymentState.FAILED, reason)]


def abort(targets: Sequence[Target]) -> list[RolloutAction]:
    """An operator's abort: nothing more starts; devices mid-update are sent back."""
    return [
        *(
            Cancel(t.device_id)
            for t in targets
            if t.state in (TargetState.PENDING, TargetState.IN_PROGRESS)
        ),
        Finish(DeploymentState.ABORTED, "aborted"),
    ]
