"""Event handlers: neosyntis's model registry is replicated and its workflows' deployment
requests answered; identity's deletions erase."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.messaging import EventConsumer
from vareon_contracts import Envelope, topics
from vareon_contracts.events.identity import UserDeletedV1
from vareon_contracts.events.neosyntis import (
    ModelAliasMovedV1,
    ModelDeploymentRequestedV1,
    ModelVersionRegisteredV1,
)

from vareon_myntrix import agents, deployments, devices, model_replica, workflow_requests
from vareon_myntrix.settings import MyntrixSettings


def build_consumers(settings: MyntrixSettings | None = None) -> list[EventConsumer]:
    settings = settings or MyntrixSettings()
    policy, defaults = settings.device_policy(), settings.rollout_defaults()
    models = EventConsumer(name="myntrix.models", topics=(topics.NEOSYNTIS_MODEL,))
    users = EventConsumer(name="myntrix.users", topics=(topics.IDENTITY_USER,))
    workflows = EventConsumer(name="myntrix.workflows", topics=(topics.NEOSYNTIS_WORKFLOW_RUN,))

    @models.on(ModelVersionRegisteredV1)
    async def version_registered(
        session: AsyncSession, event: ModelVersionRegisteredV1, envelope: Envelope
    ) -> None:
        await model_replica.replicate_version(session, event)

    @models.on(ModelAliasMovedV1)
    async def alias_moved(
        session: AsyncSession, event: ModelAliasMovedV1, envelope: Envelope
    ) -> None:
        await model_replica.replicate_alias(session, event)

    @users.on(UserDeletedV1)
    async def user_deleted(session: AsyncSession, event: UserDeletedV1, envelope: Envelope) -> None:
        await agents.erase_user(session, event.user_id)
        await devices.erase_user(session, event.user_id)
        await deployments.erase_user(session, event.user_id)

    @workflows.on(ModelDeploymentRequestedV1)
    async def deployment_requested(
        session: AsyncSession, event: ModelDeploymentRequestedV1, envelope: Envelope
    ) -> None:
        await workflow_requests.answer(session, policy, defaults, event)

    return [models, users, workflows]
