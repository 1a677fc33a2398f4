"""Device use cases: registration with a one-time credential, heartbeats, derived status."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.pagination import decode_cursor
from vareon_contracts.events.myntrix import (
    DeviceAdminStateChangedV1,
    DeviceCameOnlineV1,
    DeviceWentOfflineV1,
)

from vareon_myntrix.connectivity import AdminState, Connectivity, derive, reachable
from vareon_myntrix.errors import DeviceNotFound, DeviceRetired, DeviceUnauthorized, StaleClock
from vareon_myntrix.models import OUTBOX, Device


@dataclass(frozen=True)
class Policy:
    default_timeout_s: float
    degraded_after_ratio: float
    max_clock_skew_s: float

    def connectivity(self, device: Device, now: datetime) -> Connectivity:
        return derive(
            device.last_heartbeat_at, device.inactivity_timeout_s, now, self.degraded_after_ratio
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def register(
    session: AsyncSession,
    policy: Policy,
    *,
    name: str,
    capabilities: Iterable[str],
    timeout_s: float | None,
    registered_by: uuid.UUID,
) -> tuple[Device, str]:
    """The credential (256 random bits) is returned once; only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    device = Device(
        name=name,
        capabilities=sorted(set(capabilities)),
        inactivity_timeout_s=timeout_s or policy.default_timeout_s,
        credential_hash=_hash(token),
        registered_by=registered_by,
        admin_state="active",
        published_connectivity="offline",
        running_models={},
        desired_models={},
        pinned_models={},
    )
    session.add(device)
    await session.flush()
    return device, token


async def get(session: AsyncSession, device_id: uuid.UUID, *, lock: bool = False) -> Device:
    query = select(Device).where(Device.id == device_id)
    device = await session.scalar(query.with_for_update() if lock else query)
    if device is None:
        raise DeviceNotFound(f"no device {device_id}")
    return device


async def authenticate(session: AsyncSession, device_id: uuid.UUID, token: str) -> Device:
    """The device named in the path, if ``token`` is its credential (constant-time compare)."""
    device = await session.scalar(select(Device).where(Device.id == device_id).with_for_update())
    expected = device.credential_hash if device is not None else _hash(secrets.token_hex(32))
    if not hmac.compare_digest(expected, _hash(token)) or device is None:
        raise DeviceUnauthorized("the credential is not this device's")
    return device


def _age_s(now: datetime) -> ColumnElement[Any]:
    return func.extract("epoch", literal(now) - Device.last_heartbeat_at)


def _connectivity_is(state: Connectivity, now: datetime, ratio: float) -> ColumnElement[bool]:
    age, timeout = _age_s(now), Device.inactivity_timeout_s
    if state is Connectivity.OFFLINE:
        return or_(Device.last_heartbeat_at.is_(None), age > timeout)
    if state is Connectivity.DEGRADED:
        return and_(age > timeout * ratio, age <= timeout)
    return age <= timeout * ratio


async def active_and_online(session: AsyncSession, policy: Policy, now: datetime) -> list[Device]:
    """Devices an operator has not taken out of service that are online now (not degraded)."""
    return list(
        await session.scalars(
            select(Device)
            .where(
                Device.admin_state == str(AdminState.ACTIVE),
                _connectivity_is(Connectivity.ONLINE, now, policy.degraded_after_ratio),
            )
            .order_by(Device.created_at, Device.id)
        )
    )


async def page(
    session: AsyncSession,
    policy: Policy,
    now: datetime,
    *,
    limit: int,
    cursor: str | None,
    connectivity: Connectivity | None,
    admin_state: AdminState | None,
    capability: str | None,
) -> list[Device]:
    query = select(Device)
    if connectivity:
        query = query.where(_connectivity_is(connectivity, now, policy.degraded_after_ratio))
    if admin_state:
        query = query.where(Device.admin_state == str(admin_state))
    if capability:
        query = query.where(Device.capabilities.contains([capability]))
    after = decode_cursor(cursor, datetime, uuid.UUID)
    if after:
        query = query.where(tuple_(Device.created_at, Device.id) > after)
    return list(
        await session.scalars(query.order_by(Device.created_at, Device.id).limit(limit + 1))
    )


async def set_admin_state(session: AsyncSession, device_id: uuid.UUID, state: AdminState) -> Device:
    device = await get(session, device_id, lock=True)
    if device.admin_state != state:
        previous, device.admin_state, device.updated_at = device.admin_state, str(state), _now()
        await OUTBOX.publish(
            session,
            DeviceAdminStateChangedV1(
                device_id=device.id,
                previous_state=previous,
                state=device.admin_state,
                changed_at=device.updated_at,
            ),
        )
    await session.flush()
    return device


async def heartbeat(
    session: AsyncSession,
    policy: Policy,
    device: Device,
    *,
    sent_at: datetime,
    load: float,
    memory_percent: float,
    temperature_c: float,
    running_models: dict[str, int],
    now: datetime,
) -> bool:
    """Accept a heartbeat unless it is older than the last one accepted (then: no effect)."""
    if device.admin_state == AdminState.RETIRED:
        raise DeviceRetired("a retired device sends no heartbeats")
    if sent_at > now + timedelta(seconds=policy.max_clock_skew_s):
        raise StaleClock("the heartbeat's sent_at is too far in the future; check the clock")
    if device.last_reported_at is not None and sent_at <= device.last_reported_at:
        return False
    device.last_reported_at, device.last_heartbeat_at = sent_at, now
    device.load, device.memory_percent, device.temperature_c = load, memory_percent, temperature_c
    device.running_models, device.updated_at = running_models, now
    await session.flush()
    await publish_transition(session, policy, device.id, Connectivity.ONLINE, now)
    return True


async def publish_transition(
    session: AsyncSession, policy: Policy, device_id: uuid.UUID, to: Connectivity, now: datetime
) -> bool:
    """Compare-and-set the last announced connectivity and stage its event, in one
    transaction: whoever wins the update announces the transition; everyone else no-ops.
    The derived state is part of the condition, so it is checked again on the locked row."""
    announced = "online" if reachable(to) else "offline"
    before = "offline" if announced == "online" else "online"
    offline = _connectivity_is(Connectivity.OFFLINE, now, policy.degraded_after_ratio)
    device = await session.scalar(
        update(Device)
        .where(
            Device.id == device_id,
            Device.published_connectivity == before,
            offline if announced == "offline" else ~offline,
        )
        .values(published_connectivity=announced)
        .returning(Device)
        .execution_options(synchronize_session=False)
    )
    if device is None:
        return False
    if announced == "online":
        assert device.last_heartbeat_at is not None
        await OUTBOX.publish(
            session,
            DeviceCameOnlineV1(
                device_id=device.id, last_heartbeat_at=device.last_heartbeat_at, detected_at=now
            ),
        )
    else:
        await OUTBOX.publish(
            session,
            DeviceWentOfflineV1(
                device_id=device.id,
                last_heartbeat_at=device.last_heartbeat_at,
                inactivity_timeout_s=device.inactivity_timeout_s,
                detected_at=now,
            ),
        )
    return True


async def sweep_connectivity(
    session: AsyncSession, policy: Policy, now: datetime, limit: int = 500
) -> list[tuple[uuid.UUID, Connectivity]]:
    """Announce every device whose derived reachability differs from the last announcement."""
    offline = _connectivity_is(Connectivity.OFFLINE, now, policy.degraded_after_ratio)
    rows = (
        await session.execute(
            select(Device.id, offline)
            .where(
                or_(
                    and_(Device.published_connectivity == "online", offline),
                    and_(Device.published_connectivity == "offline", ~offline),
                )
            )
            .limit(limit)
        )
    ).all()
    changed = []
    for device_id, is_offline in rows:
        to = Connectivity.OFFLINE if is_offline else Connectivity.ONLINE
        if await publish_transition(session, policy, device_id, to, now):
            changed.append((device_id, to))
    return changed


async def pin(
    session: AsyncSession, device_id: uuid.UUID, model_name: str, version: int | None
) -> Device:
    """Pin (or unpin with None) a model's version: rollouts of other versions skip it."""
    device = await get(session, device_id, lock=True)
    pinned, desired = dict(device.pinned_models), dict(device.desired_models)
    if version is None:
        pinned.pop(model_name, None)
    else:
        pinned[model_name] = desired[model_name] = version
    device.pinned_models, device.desired_models, device.updated_at = pinned, desired, _now()
    await session.flush()
    return device


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(Device).where(Device.registered_by == user_id).values(registered_by=None)
    )
