"""What the rollout machine's actions do to a deployment, its targets and its devices' desired
models, and the progress and outcome events they announce."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.myntrix import (
    DeploymentAbortedV1,
    DeploymentFailedV1,
    DeploymentProgressedV1,
    DeploymentSucceededV1,
)

from vareon_myntrix import rollout
from vareon_myntrix.connectivity import AdminState
from vareon_myntrix.devices import Policy
from vareon_myntrix.models import (
    OUTBOX,
    Deployment,
    DeploymentTarget,
    Device,
)
from vareon_myntrix.rollout import DeploymentState, TargetState


def device_report(
    device: Device, model_name: str, policy: Policy, now: datetime
) -> rollout.DeviceReport:
    return rollout.DeviceReport(
        running_version=device.running_models.get(model_name),
        connectivity=policy.connectivity(device, now),
        admin_state=AdminState(device.admin_state),
        pinned_version=device.pinned_models.get(model_name),
    )


def _set_desired(device: Device, model_name: str, version: int | None) -> None:
    desired = dict(device.desired_models)
    if version is None:
        desired.pop(model_name, None)
    else:
        desired[model_name] = version
    device.desired_models = desired


async def apply_actions(
    session: AsyncSession,
    deployment: Deployment,
    rows: list[DeploymentTarget],
    actions: Sequence[rollout.RolloutAction],
    now: datetime,
    aborted_by: uuid.UUID | None = None,
) -> None:
    by_device = {t.device_id: t for t in rows}
    devices = {
        d.id: d
        for d in await session.scalars(
            select(Device).where(Device.id.in_(by_device)).order_by(Device.id).with_for_update()
        )
    }
    changed = False
    for action in actions:
        if isinstance(action, rollout.WaitUntil):
            deployment.next_batch_at = action.at
            continue
        if isinstance(action, rollout.Finish):
            await finish(session, deployment, rows, action, now, aborted_by)
            continue
        target, changed = by_device[action.device_id], True
        device = devices[action.device_id]
        if isinstance(action, rollout.Start):
            target.state, target.started_at = str(TargetState.IN_PROGRESS), now
            _set_desired(device, deployment.model_name, deployment.version)
            continue
        target.finished_at = now
        if isinstance(action, rollout.Succeed):
            target.state = str(TargetState.SUCCEEDED)
            _set_desired(device, deployment.model_name, deployment.version)
        elif isinstance(action, rollout.Fail):
            target.state, target.reason = str(TargetState.FAILED), action.reason
            _set_desired(device, deployment.model_name, target.previous_version)
        elif isinstance(action, rollout.Skip):
            target.state, target.reason = str(TargetState.SKIPPED), action.reason
        elif isinstance(action, rollout.Cancel):
            if target.state == TargetState.IN_PROGRESS:  # sent back to what it ran before
                _set_desired(device, deployment.model_name, target.previous_version)
            target.state = str(TargetState.CANCELLED)
    deployment.updated_at = now
    await session.flush()
    if changed and deployment.state == DeploymentState.ROLLING_OUT:
        counts = Counter(t.state for t in rows)
        await OUTBOX.publish(
            session,
            DeploymentProgressedV1(
                deployment_id=deployment.id,
                model_name=deployment.model_name,
                version=deployment.version,
                pending=counts["pending"],
                in_progress=counts["in_progress"],
                succeeded=counts["succeeded"],
                failed=counts["failed"],
                skipped=counts["skipped"],
                progressed_at=now,
            ),
        )


async def finish(
    session: AsyncSession,
    deployment: Deployment,
    rows: list[DeploymentTarget],
    action: rollout.Finish,
    now: datetime,
    aborted_by: uuid.UUID | None,
) -> None:
    deployment.state, deployment.reason, deployment.finished_at = (
        str(action.state),
        action.reason,
        now,
    )
    counts = Counter(t.state for t in rows)
    common = {
        "deployment_id": deployment.id,
        "model_name": deployment.model_name,
        "version": deployment.version,
        "finished_at": now,
    }
    if action.state is DeploymentState.SUCCEEDED:
        await OUTBOX.publish(
            session,
            DeploymentSucceededV1(
                **common,
                succeeded=counts["succeeded"],
                failed=counts["failed"],
                skipped=counts["skipped"],
            ),
        )
    elif action.state is DeploymentState.FAILED:
        await OUTBOX.publish(
            session,
            DeploymentFailedV1(
                **common,
                reason=action.reason or "failed",
                succeeded=counts["succeeded"],
                failed=counts["failed"],
                cancelled=counts["cancelled"],
            ),
        )
    else:
        await OUTBOX.publish(
            session,
            DeploymentAbortedV1(
                **common,
                aborted_by=aborted_by,
                succeeded=counts["succeeded"],
                cancelled=counts["cancelled"],
            ),
        )


def _plan(d: Deployment) -> rollout.Plan:
    return rollout.Plan(
        model_name=d.model_name,
        version=d.version,
        state=DeploymentState(d.state),
        batch_size=d.batch_size,
        pause_s=d.pause_s,
        failure_threshold=d.failure_threshold,
        device_timeout_s=d.device_timeout_s,
        next_batch_at=d.next_batch_at,
    )


def machine_targets(rows: Sequence[DeploymentTarget]) -> list[rollout.Target]:
    return [
        rollout.Target(t.device_id, t.position, TargetState(t.state), t.started_at) for t in rows
    ]


async def advance(
    session: AsyncSession,
    policy: Policy,
    deployment: Deployment,
    rows: list[DeploymentTarget],
    now: datetime,
) -> list[rollout.RolloutAction]:
    """One step of the rollout machine for ``deployment`` (its ``rows`` in position order)."""
    devices = {
        d.id: d
        for d in await session.scalars(
            select(Device).where(Device.id.in_([t.device_id for t in rows]))
        )
    }
    reports = {i: device_report(d, deployment.model_name, policy, now) for i, d in devices.items()}
    actions = rollout.advance(_plan(deployment), machine_targets(rows), reports, now)
    if actions:
        await apply_actions(session, deployment, rows, actions, now)
    return actions
