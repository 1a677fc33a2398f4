"""Deployment use cases: request (or refuse), read, advance, abort, roll back; the rollout
machine's effects are in rollout_effects, the model registry replica in model_replica."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis import idempotency
from vareon_chassis.pagination import decode_cursor
from vareon_contracts.events.myntrix import (
    DeploymentRequestedV1,
    SkippedDevice,
)

from vareon_myntrix import rollout, rollout_effects
from vareon_myntrix.devices import Policy, active_and_online
from vareon_myntrix.errors import (
    DeploymentConflict,
    DeploymentFinished,
    DeploymentNotFound,
    NoEligibleDevice,
    NothingToRollBack,
    UnknownDevices,
    UnknownModelVersion,
)
from vareon_myntrix.models import (
    OUTBOX,
    Deployment,
    DeploymentTarget,
    Device,
    ModelAlias,
    ModelVersion,
    idempotency_keys,
)
from vareon_myntrix.rollout import DeploymentState, TargetState

ACTIVE_TARGETS = (TargetState.PENDING, TargetState.IN_PROGRESS)
MY_DEVICES_ACTION = "deploy-to-my-devices"


def _now() -> datetime:
    return datetime.now(UTC)


async def resolve_version(
    session: AsyncSession, model_name: str, version: int | None, alias: str | None
) -> int:
    if alias is not None:
        version = await session.scalar(
            select(ModelAlias.version).where(
                ModelAlias.model_name == model_name, ModelAlias.alias == alias
            )
        )
        if version is None:
            raise UnknownModelVersion(f"{model_name} has no alias {alias!r}")
    if version is None:
        raise UnknownModelVersion("give a version or an alias")
    known = await session.get(ModelVersion, (model_name, version))
    if known is None:
        raise UnknownModelVersion(f"{model_name} version {version} is not registered")
    return version


async def _busy(
    session: AsyncSession, model_name: str, device_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """The devices among ``device_ids`` still pending or updating in a rollout of the model."""
    return list(
        await session.scalars(
            select(DeploymentTarget.device_id)
            .join(Deployment)
            .where(
                Deployment.model_name == model_name,
                Deployment.state == DeploymentState.ROLLING_OUT,
                DeploymentTarget.device_id.in_(device_ids),
                DeploymentTarget.state.in_([str(s) for s in ACTIVE_TARGETS]),
            )
        )
    )


async def request(
    session: AsyncSession,
    policy: Policy,
    *,
    model_name: str,
    version: int,
    device_ids: Sequence[uuid.UUID],
    batch_size: int,
    pause_s: float,
    failure_threshold: float,
    device_timeout_s: float,
    requested_by: uuid.UUID | None,
    rollback_of: uuid.UUID | None = None,
    deployment_id: uuid.UUID | None = None,
) -> Deployment:
    ids = list(dict.fromkeys(device_ids))
    devices = {
        d.id: d
        for d in await session.scalars(
            select(Device).where(Device.id.in_(ids)).order_by(Device.id).with_for_update()
        )
    }
    missing = [str(i) for i in ids if i not in devices]
    if missing:
        raise UnknownDevices(f"{len(missing)} devices are not registered", device_ids=missing)
    busy = await _busy(session, model_name, ids)
    if busy:
        raise DeploymentConflict(
            f"{len(busy)} devices are in an active rollout of {model_name}",
            device_ids=[str(b) for b in busy],
        )
    now = _now()
    previous = Counter(
        v for d in devices.values() if (v := d.running_models.get(model_name)) is not None
    )
    deployment = Deployment(
        id=deployment_id or uuid.uuid4(),
        model_name=model_name,
        version=version,
        rollback_of=rollback_of,
        previous_version=previous.most_common(1)[0][0] if previous else None,
        requested_by=requested_by,
        state=str(DeploymentState.ROLLING_OUT),
        batch_size=batch_size,
        pause_s=pause_s,
        failure_threshold=failure_threshold,
        device_timeout_s=device_timeout_s,
        next_batch_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(deployment)
    await session.flush()
    skipped = []
    for position, device_id in enumerate(ids):
        device = devices[device_id]
        reason = rollout.skip_reason(
            rollout_effects.device_report(device, model_name, policy, now), version
        )
        session.add(
            DeploymentTarget(
                deployment_id=deployment.id,
                device_id=device_id,
                position=position,
                state=str(TargetState.SKIPPED if reason else TargetState.PENDING),
                reason=reason,
                previous_version=device.running_models.get(model_name),
            )
        )
        if reason:
            skipped.append(SkippedDevice(device_id=device_id, reason=reason))
    await session.flush()
    await OUTBOX.publish(
        session,
        DeploymentRequestedV1(
            deployment_id=deployment.id,
            model_name=model_name,
            version=version,
            device_ids=ids,
            skipped=skipped,
            rollback_of=rollback_of,
            requested_at=now,
        ),
    )
    return deployment


async def eligible_devices(
    session: AsyncSession, policy: Policy, model_name: str, version: int, now: datetime
) -> list[uuid.UUID]:
    """Where a deployment without a device list goes: active and online devices, less those
    pinned to another version of the model or still in an active rollout of it."""
    candidates = [
        d.id
        for d in await active_and_online(session, policy, now)
        if rollout.skip_reason(rollout_effects.device_report(d, model_name, policy, now), version)
        is None
    ]
    busy = set(await _busy(session, model_name, candidates))
    return [i for i in candidates if i not in busy]


async def refuse(
    session: AsyncSession,
    *,
    deployment_id: uuid.UUID,
    model_name: str,
    version: int,
    reason: str,
    requested_by: uuid.UUID | None,
    batch_size: int,
    pause_s: float,
    failure_threshold: float,
    device_timeout_s: float,
) -> Deployment:
    """Record a deployment that cannot start as failed, and announce it, so whoever asked
    for it gets an answer."""
    now = _now()
    deployment = Deployment(
        id=deployment_id,
        model_name=model_name,
        version=version,
        requested_by=requested_by,
        state=str(DeploymentState.ROLLING_OUT),
        batch_size=batch_size,
        pause_s=pause_s,
        failure_threshold=failure_threshold,
        device_timeout_s=device_timeout_s,
        created_at=now,
        updated_at=now,
    )
    session.add(deployment)
    await rollout_effects.finish(
        session, deployment, [], rollout.Finish(DeploymentState.FAILED, reason), now, None
    )
    await session.flush()
    return deployment


async def get(session: AsyncSession, deployment_id: uuid.UUID, *, lock: bool = False) -> Deployment:
    query = select(Deployment).where(Deployment.id == deployment_id)
    deployment = await session.scalar(query.with_for_update() if lock else query)
    if deployment is None:
        raise DeploymentNotFound(f"no deployment {deployment_id}")
    return deployment


async def targets(session: AsyncSession, deployment_id: uuid.UUID) -> list[DeploymentTarget]:
    return list(
        await session.scalars(
            select(DeploymentTarget)
            .where(DeploymentTarget.deployment_id == deployment_id)
            .order_by(DeploymentTarget.position)
        )
    )


async def page(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    state: str | None,
    model_name: str | None,
) -> list[Deployment]:
    query = select(Deployment)
    if state:
        query = query.where(Deployment.state == state)
    if model_name:
        query = query.where(Deployment.model_name == model_name)
    after = decode_cursor(cursor, datetime, uuid.UUID)
    if after:
        query = query.where(tuple_(Deployment.created_at, Deployment.id) < after)
    query = query.order_by(Deployment.created_at.desc(), Deployment.id.desc())
    return list(await session.scalars(query.limit(limit + 1)))


async def advance_all(session: AsyncSession, policy: Policy, now: datetime, limit: int = 50) -> int:
    """One step of every active rollout; replicas share the work (SKIP LOCKED)."""
    active = list(
        await session.scalars(
            select(Deployment)
            .where(Deployment.state == DeploymentState.ROLLING_OUT)
            .order_by(Deployment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for deployment in active:
        rows = await targets(session, deployment.id)
        await rollout_effects.advance(session, policy, deployment, rows, now)
    return len(active)


async def abort(
    session: AsyncSession, deployment_id: uuid.UUID, by: uuid.UUID | None
) -> Deployment:
    deployment = await get(session, deployment_id, lock=True)
    if deployment.state != DeploymentState.ROLLING_OUT:
        raise DeploymentFinished(f"the deployment is already {deployment.state}")
    rows = await targets(session, deployment.id)
    await rollout_effects.apply_actions(
        session, deployment, rows, rollout.abort(rollout_effects.machine_targets(rows)), _now(), by
    )
    return deployment


async def rollback(
    session: AsyncSession, policy: Policy, deployment_id: uuid.UUID, by: uuid.UUID | None
) -> Deployment:
    """A new deployment taking the devices this one updated back to the previous version."""
    deployment = await get(session, deployment_id, lock=True)
    if deployment.state == DeploymentState.ROLLING_OUT:
        raise DeploymentFinished("abort the deployment before rolling it back")
    if deployment.previous_version is None:
        raise NothingToRollBack("the devices ran no earlier version of this model")
    updated = [
        t.device_id
        for t in await targets(session, deployment.id)
        if t.state == TargetState.SUCCEEDED
    ]
    if not updated:
        raise NothingToRollBack("no device was updated by this deployment")
    return await request(
        session,
        policy,
        model_name=deployment.model_name,
        version=deployment.previous_version,
        device_ids=updated,
        batch_size=deployment.batch_size,
        pause_s=deployment.pause_s,
        failure_threshold=deployment.failure_threshold,
        device_timeout_s=deployment.device_timeout_s,
        requested_by=by,
        rollback_of=deployment.id,
    )


async def to_my_devices(
    session: AsyncSession,
    policy: Policy,
    *,
    user_id: uuid.UUID,
    model_name: str,
    alias: str,
    idempotency_key: str,
) -> tuple[Deployment, bool]:
    """One rollout of what the alias points at over every device the user registered (and
    did not retire), and whether it is an earlier one replayed for the Idempotency-Key."""
    scope = idempotency.Scope(user_id, MY_DEVICES_ACTION, idempotency_key)
    request_hash = idempotency.fingerprint({"model_name": model_name, "alias": alias})
    earlier = await idempotency.claim(session, idempotency_keys, scope, request_hash)
    if earlier is not None:
        return await get(session, uuid.UUID(earlier["deployment_id"])), True
    version = await resolve_version(session, model_name, None, alias)
    mine = list(
        await session.scalars(
            select(Device.id)
            .where(Device.registered_by == user_id, Device.admin_state != "retired")
            .order_by(Device.created_at, Device.id)
        )
    )
    if not mine:
        raise NoEligibleDevice("you have registered no devices to deploy to")
    deployment = await request(
        session,
        policy,
        model_name=model_name,
        version=version,
        device_ids=mine,
        batch_size=1,
        pause_s=0,
        failure_threshold=0.2,
        device_timeout_s=600,
        requested_by=user_id,
    )
    result = {"deployment_id": str(deployment.id)}
    await idempotency.remember(session, idempotency_keys, scope, result)
    return deployment, False


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(Deployment).where(Deployment.requested_by == user_id).values(requested_by=None)
    )
    await idempotency.forget_owner(session, idempotency_keys, user_id)
