"""The replica of neosyntis's model registry (versions and aliases), written from its events;
deployments check what they ask for against it."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.neosyntis import ModelAliasMovedV1, ModelVersionRegisteredV1

from vareon_myntrix.models import (
    ModelAlias,
    ModelVersion,
)


async def replicate_version(session: AsyncSession, event: ModelVersionRegisteredV1) -> None:
    await session.execute(
        insert(ModelVersion)
        .values(
            model_name=event.model_name,
            version=event.version,
            model_id=event.model_id,
            artifact_digest=event.artifact_digest,
            artifact_uri=event.artifact_uri,
            framework=event.framework,
            registered_at=event.registered_at,
        )
        .on_conflict_do_nothing()
    )


async def replicate_alias(session: AsyncSession, event: ModelAliasMovedV1) -> None:
    stmt = insert(ModelAlias).values(
        model_name=event.model_name,
        alias=event.alias,
        version=event.version,
        moved_at=event.moved_at,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ModelAlias.model_name, ModelAlias.alias],
            set_={"version": stmt.excluded.version, "moved_at": stmt.excluded.moved_at},
            where=ModelAlias.moved_at < stmt.excluded.moved_at,
        )
    )
