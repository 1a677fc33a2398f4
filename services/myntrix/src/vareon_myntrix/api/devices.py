"""Hardware devices.

Every route takes a user's bearer JWT except the heartbeat: a device authenticates with its
own credential, ``Authorization: Device <token>``, which is NOT a user JWT (it is issued once
by ``POST /hardware`` and stored only as a hash). A credential works only for its own device.
Connectivity (online, degraded, offline) is derived by the server from the time it accepted
the last heartbeat; no route accepts it from a client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from vareon_chassis.auth import Principal, require_any, require_permission
from vareon_chassis.db import SessionDep
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_myntrix import devices
from vareon_myntrix.api.deps import DEVICES_READ, DEVICES_WRITE, PREFIX, policy
from vareon_myntrix.connectivity import AdminState, Connectivity
from vareon_myntrix.errors import DeviceUnauthorized
from vareon_myntrix.models import Device
from vareon_myntrix.schemas import (
    AdminStateIn,
    DeviceIn,
    DeviceOut,
    DevicePage,
    DeviceRegistered,
    HeartbeatIn,
    HeartbeatOut,
    PinIn,
)

router = APIRouter(prefix=PREFIX + "/hardware", tags=["hardware"])


def _out(device: Device, p: devices.Policy, now: datetime) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        capabilities=device.capabilities,
        admin_state=AdminState(device.admin_state),
        connectivity=p.connectivity(device, now),
        inactivity_timeout_s=device.inactivity_timeout_s,
        last_heartbeat_at=device.last_heartbeat_at,
        load=device.load,
        memory_percent=device.memory_percent,
        temperature_c=device.temperature_c,
        running_models=device.running_models,
        desired_models=device.desired_models,
        pinned_models=device.pinned_models,
        created_at=device.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_device(
    request: Request,
    session: SessionDep,
    body: DeviceIn,
    user: Principal = require_permission(DEVICES_WRITE),
) -> DeviceRegistered:
    """Register a device. The response holds its credential: it is never shown again."""
    p = policy(request)
    device, token = await devices.register(
        session,
        p,
        name=body.name,
        capabilities=body.capabilities,
        timeout_s=body.inactivity_timeout_s,
        registered_by=user.id,
    )
    now = datetime.now(UTC)
    return DeviceRegistered(**_out(device, p, now).model_dump(), credential=token)


@router.get("")
async def list_devices(
    request: Request,
    session: SessionDep,
    limit: PageSize = 50,
    cursor: Cursor = None,
    connectivity: Connectivity | None = None,
    admin_state: AdminState | None = None,
    capability: str | None = None,
    user: Principal = require_any(DEVICES_READ, DEVICES_WRITE),
) -> DevicePage:
    p, now = policy(request), datetime.now(UTC)
    rows = await devices.page(
        session,
        p,
        now,
        limit=limit,
        cursor=cursor,
        connectivity=connectivity,
        admin_state=admin_state,
        capability=capability,
    )
    items = [_out(d, p, now) for d in rows[:limit]]
    more = len(rows) > limit
    return DevicePage(
        items=items,
        next_cursor=encode_cursor(items[-1].created_at, items[-1].id) if more else None,
    )


@router.get("/{device_id}")
async def get_device(
    request: Request,
    session: SessionDep,
    device_id: uuid.UUID,
    user: Principal = require_any(DEVICES_READ, DEVICES_WRITE),
) -> DeviceOut:
    return _out(await devices.get(session, device_id), policy(request), datetime.now(UTC))


@router.put("/{device_id}/status")
async def set_status(
    request: Request,
    session: SessionDep,
    device_id: uuid.UUID,
    body: AdminStateIn,
    user: Principal = require_permission(DEVICES_WRITE),
) -> DeviceOut:
    """Set the administrative state only; connectivity is not settable (422 if sent)."""
    device = await devices.set_admin_state(session, device_id, body.admin_state)
    return _out(device, policy(request), datetime.now(UTC))


@router.put("/{device_id}/pins/{model_name}")
async def pin_model(
    request: Request,
    session: SessionDep,
    device_id: uuid.UUID,
    model_name: str,
    body: PinIn,
    user: Principal = require_permission(DEVICES_WRITE),
) -> DeviceOut:
    """Keep this device on one version of a model: rollouts of other versions skip it."""
    device = await devices.pin(session, device_id, model_name, body.version)
    return _out(device, policy(request), datetime.now(UTC))


@router.delete("/{device_id}/pins/{model_name}")
async def unpin_model(
    request: Request,
    session: SessionDep,
    device_id: uuid.UUID,
    model_name: str,
    user: Principal = require_permission(DEVICES_WRITE),
) -> DeviceOut:
    device = await devices.pin(session, device_id, model_name, None)
    return _out(device, policy(request), datetime.now(UTC))


@router.post("/{device_id}/heartbeat", responses={401: {"description": "bad credential"}})
async def heartbeat(
    request: Request,
    session: SessionDep,
    device_id: uuid.UUID,
    body: HeartbeatIn,
    authorization: Annotated[str | None, Header(description="Device <credential>")] = None,
) -> HeartbeatOut:
    """A device's measurements, authenticated by its device credential (not a user JWT).

    The answer tells the device which model versions it should run."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "device" or not token:
        raise DeviceUnauthorized("send Authorization: Device <credential>")
    p, now = policy(request), datetime.now(UTC)
    device = await devices.authenticate(session, device_id, token.strip())
    accepted = await devices.heartbeat(
        session,
        p,
        device,
        sent_at=body.sent_at,
        load=body.load,
        memory_percent=body.memory_percent,
        temperature_c=body.temperature_c,
        running_models={m.model_name: m.version for m in body.running_models},
        now=now,
    )
    return HeartbeatOut(
        accepted=accepted,
        connectivity=p.connectivity(device, now),
        desired_models=device.desired_models,
    )
