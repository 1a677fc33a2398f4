"""Events published by myntrix: agents (key: agent id), devices (key: device id) and model
deployments (key: deployment id)."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


@register
class AgentStatusChangedV1(EventPayload):
    """An agent's lifecycle moved (stopped, starting, running, stopping, failed)."""

    event_type = "vareon.myntrix.agent.status-changed.v1"
    topic = topics.MYNTRIX_AGENT
    key_field = "agent_id"

    agent_id: UUID
    owner_id: UUID
    previous_status: str
    status: str
    command_id: UUID | None = None
    changed_at: datetime


@register
class DeviceWentOfflineV1(EventPayload):
    """No heartbeat within the device's inactivity timeout (derived by the server)."""

    event_type = "vareon.myntrix.device.went-offline.v1"
    topic = topics.MYNTRIX_DEVICE
    key_field = "device_id"

    device_id: UUID
    last_heartbeat_at: datetime | None
    inactivity_timeout_s: float
    detected_at: datetime


@register
class DeviceCameOnlineV1(EventPayload):
    """A fresh heartbeat arrived from a device last published as offline."""

    event_type = "vareon.myntrix.device.came-online.v1"
    topic = topics.MYNTRIX_DEVICE
    key_field = "device_id"

    device_id: UUID
    last_heartbeat_at: datetime
    detected_at: datetime


@register
class DeviceAdminStateChangedV1(EventPayload):
    """An operator set the administrative state (active, maintenance, retired)."""

    event_type = "vareon.myntrix.device.admin-state-changed.v1"
    topic = topics.MYNTRIX_DEVICE
    key_field = "device_id"

    device_id: UUID
    previous_state: str
    state: str
    changed_at: datetime


class SkippedDevice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: UUID
    reason: str
    """offline, maintenance, retired or pinned."""


@register
class DeploymentRequestedV1(EventPayload):
    event_type = "vareon.myntrix.deployment.requested.v1"
    topic = topics.MYNTRIX_DEPLOYMENT
    key_field = "deployment_id"

    deployment_id: UUID
    model_name: str
    version: int
    device_ids: list[UUID]
    skipped: list[SkippedDevice] = []
    rollback_of: UUID | None = None
    requested_at: datetime


@register
class DeploymentProgressedV1(EventPayload):
    """Counts of the deployment's devices per state after a step of the rollout."""

    event_type = "vareon.myntrix.deployment.progressed.v1"
    topic = topics.MYNTRIX_DEPLOYMENT
    key_field = "deployment_id"

    deployment_id: UUID
    model_name: str
    version: int
    pending: int
    in_progress: int
    succeeded: int
    failed: int
    skipped: int
    progressed_at: datetime


@register
class DeploymentSucceededV1(EventPayload):
    event_type = "vareon.myntrix.deployment.succeeded.v1"
    topic = topics.MYNTRIX_DEPLOYMENT
    key_field = "deployment_id"

    deployment_id: UUID
    model_name: str
    version: int
    succeeded: int
    failed: int
    skipped: int
    finished_at: datetime


@register
class DeploymentFailedV1(EventPayload):
    """The rollout stopped by itself (failure ratio over the threshold, no eligible device)."""

    event_type = "vareon.myntrix.deployment.failed.v1"
    topic = topics.MYNTRIX_DEPLOYMENT
    key_field = "deployment_id"

    deployment_id: UUID
    model_name: str
    version: int
    reason: str
    succeeded: int
    failed: int
    cancelled: int
    finished_at: datetime


@register
class DeploymentAbortedV1(EventPayload):
    """An operator aborted the rollout; devices not yet updated keep their old version."""

    event_type = "vareon.myntrix.deployment.aborted.v1"
    topic = topics.MYNTRIX_DEPLOYMENT
    key_field = "deployment_id"

    deployment_id: UUID
    model_name: str
    version: int
    aborted_by: UUID | None
    succeeded: int
    cancelled: int
    finished_at: datetime
