"""Deployments a neosyntis workflow step asks for by event: every request gets an answer.

The request carries the id the deployment must take, so the workflow can match
DeploymentSucceededV1 / DeploymentFailedV1 to its step. A request that cannot start (version
not in the replica, unknown or busy devices, no eligible device, a requester without
``deployments:write``) is recorded as a failed deployment with its reason instead of being
retried or dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.neosyntis import ModelDeploymentRequestedV1

from vareon_myntrix import deployments
from vareon_myntrix.devices import Policy
from vareon_myntrix.errors import (
    DeploymentConflict,
    NoEligibleDevice,
    RequesterNotPermitted,
    UnknownDevices,
    UnknownModelVersion,
)
from vareon_myntrix.models import Deployment

DEPLOYMENTS_WRITE = "deployments:write"
REFUSALS = (
    UnknownModelVersion,
    UnknownDevices,
    DeploymentConflict,
    NoEligibleDevice,
    RequesterNotPermitted,
)


@dataclass(frozen=True)
class RolloutDefaults:
    batch_size: int
    pause_s: float
    failure_threshold: float
    device_timeout_s: float


async def answer(
    session: AsyncSession,
    policy: Policy,
    defaults: RolloutDefaults,
    asked: ModelDeploymentRequestedV1,
) -> Deployment:
    """The deployment ``asked.deployment_id``: the existing one when the request came before."""
    existing = await session.get(Deployment, asked.deployment_id)
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            return await _start(session, policy, defaults, asked)
    except REFUSALS as refusal:
        return await deployments.refuse(
            session,
            deployment_id=asked.deployment_id,
            model_name=asked.model_name,
            version=asked.version,
            reason=refusal.detail,
            requested_by=asked.owner_id,
            batch_size=defaults.batch_size,
            pause_s=defaults.pause_s,
            failure_threshold=defaults.failure_threshold,
            device_timeout_s=defaults.device_timeout_s,
        )


async def _start(
    session: AsyncSession,
    policy: Policy,
    defaults: RolloutDefaults,
    asked: ModelDeploymentRequestedV1,
) -> Deployment:
    if DEPLOYMENTS_WRITE not in asked.requester_permissions:
        raise RequesterNotPermitted(
            f"the requester did not hold {DEPLOYMENTS_WRITE!r} when the run started"
        )
    version = await deployments.resolve_version(session, asked.model_name, asked.version, None)
    device_ids = asked.device_ids or await deployments.eligible_devices(
        session, policy, asked.model_name, version, datetime.now(UTC)
    )
    if not device_ids:
        raise NoEligibleDevice(
            f"no device is active, online, free of pins to another version of "
            f"{asked.model_name} and outside an active rollout of it"
        )
    return await deployments.request(
        session,
        policy,
        model_name=asked.model_name,
        version=version,
        device_ids=device_ids,
        batch_size=defaults.batch_size,
        pause_s=defaults.pause_s,
        failure_threshold=defaults.failure_threshold,
        device_timeout_s=defaults.device_timeout_s,
        requested_by=asked.owner_id,
        deployment_id=asked.deployment_id,
    )
