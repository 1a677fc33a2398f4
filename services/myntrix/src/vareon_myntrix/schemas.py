"""HTTP request and response models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vareon_myntrix.agent_kinds import (
    ChatConfiguration,
    InferenceConfiguration,
    WorkerConfiguration,
)
from vareon_myntrix.connectivity import AdminState, Connectivity
from vareon_myntrix.lifecycle import Action

Name = Annotated[str, Field(min_length=1, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _AgentIn(_In):
    name: Name
    model: Name


class ChatAgentIn(_AgentIn):
    kind: Literal["chat"]
    configuration: ChatConfiguration = ChatConfiguration()


class WorkerAgentIn(_AgentIn):
    kind: Literal["worker"]
    configuration: WorkerConfiguration


class InferenceAgentIn(_AgentIn):
    kind: Literal["inference"]
    configuration: InferenceConfiguration = InferenceConfiguration()


AgentIn = Annotated[ChatAgentIn | WorkerAgentIn | InferenceAgentIn, Field(discriminator="kind")]


class AgentPatch(_In):
    """``configuration`` replaces the whole configuration; it is checked against the kind."""

    name: Name | None = None
    model: Name | None = None
    configuration: dict[str, Any] | None = None


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    model: str
    configuration: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime


class AgentPage(BaseModel):
    items: list[AgentOut]
    next_cursor: str | None


class ActionIn(_In):
    agent_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    action: Action
    idempotency_key: str = Field(min_length=1, max_length=200)


class CommandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent_id: uuid.UUID
    action: str
    state: str
    idempotency_key: str
    detail: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class CommandReport(_In):
    """What the agent's runtime says about a command (forward moves only)."""

    state: Literal["sent", "acknowledged", "succeeded", "failed"]
    detail: str | None = Field(None, max_length=2000)


class DeviceIn(_In):
    name: Name
    capabilities: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    inactivity_timeout_s: float | None = Field(None, gt=0, le=86_400)


class DeviceOut(BaseModel):
    id: uuid.UUID
    name: str
    capabilities: list[str]
    admin_state: AdminState
    connectivity: Connectivity
    """Derived by the server from the last accepted heartbeat; never set by a client."""
    inactivity_timeout_s: float
    last_heartbeat_at: datetime | None
    load: float | None
    memory_percent: float | None
    temperature_c: float | None
    running_models: dict[str, int]
    desired_models: dict[str, int]
    pinned_models: dict[str, int]
    created_at: datetime


class DeviceRegistered(DeviceOut):
    credential: str
    """Shown once: send it as ``Authorization: Device <credential>`` on heartbeats."""


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None


class AdminStateIn(_In):
    admin_state: AdminState


class RunningModel(_In):
    model_name: Name
    version: int = Field(ge=1)


class HeartbeatIn(_In):
    """Measurements only: connectivity is not a field (it is derived by the server)."""

    sent_at: AwareDatetime
    """The device's own clock; a heartbeat older than the last accepted one is ignored."""
    load: float = Field(ge=0)
    memory_percent: float = Field(ge=0, le=100)
    temperature_c: float = Field(ge=-100, le=300)
    running_models: list[RunningModel] = Field(default_factory=list, max_length=200)


class HeartbeatOut(BaseModel):
    accepted: bool
    """False when the heartbeat was older than the last accepted one (it changed nothing)."""
    connectivity: Connectivity
    desired_models: dict[str, int]


class PinIn(_In):
    version: int = Field(ge=1)


class DeploymentIn(_In):
    model_name: Name
    version: int | None = Field(None, ge=1)
    alias: Name | None = None
    """Deploy what this alias points at instead of a version number."""
    device_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    batch_size: int = Field(1, ge=1, le=1000)
    pause_s: float = Field(0, ge=0, le=86_400)
    failure_threshold: float = Field(0.2, ge=0, le=1)
    device_timeout_s: float = Field(600, gt=0, le=86_400)


class MyDevicesDeploymentIn(_In):
    """The quick action "deploy the model alias A to my devices"."""

    model_name: Name
    alias: Name


class TargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: uuid.UUID
    position: int
    state: str
    previous_version: int | None
    reason: str | None
    started_at: datetime | None
    finished_at: datetime | None


class DeploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    model_name: str
    version: int
    previous_version: int | None
    rollback_of: uuid.UUID | None
    state: str
    reason: str | None
    batch_size: int
    pause_s: float
    failure_threshold: float
    device_timeout_s: float
    created_at: datetime
    finished_at: datetime | None
    targets: list[TargetOut] = []


class DeploymentPage(BaseModel):
    items: list[DeploymentOut]
    next_cursor: str | None


class DeviceCounts(BaseModel):
    """Devices in the dashboard's myntrix section."""

    total: int
    heard_from: int
    """Sent a heartbeat within its inactivity timeout (online or degraded)."""
    by_admin_state: dict[str, int]


class MyntrixSummary(BaseModel):
    scope: Literal["user", "platform"]
    agents_by_status: dict[str, int]
    devices: DeviceCounts | None
    """None: the caller may not see devices (devices:read)."""
