"""Registry use cases: models, immutable versions with lineage, aliases with history."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import Conflict, Forbidden, NotFound
from vareon_chassis.pagination import decode_cursor
from vareon_contracts.events.neosyntis import ModelAliasMovedV1, ModelVersionRegisteredV1

from vareon_neosyntis.datasets import service as datasets
from vareon_neosyntis.db import OUTBOX
from vareon_neosyntis.errors import InvalidRequest
from vareon_neosyntis.registry.models import AliasHistory, Model, ModelVersion
from vareon_neosyntis.training.models import TrainingJob
from vareon_neosyntis.training.states import JobState

ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PUBLISH = "models:write"


def _check_publish(visibility: str | None, may_publish: bool) -> None:
    if visibility == "public" and not may_publish:
        raise Forbidden(f"making a model public needs the {PUBLISH!r} permission")


async def create_model(
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    description: str,
    *,
    visibility: str = "private",
    may_publish: bool = False,
) -> Model:
    datasets.check_name(name, "model")
    _check_publish(visibility, may_publish)
    model = Model(
        id=uuid.uuid4(),
        name=name,
        owner_id=owner_id,
        description=description,
        visibility=visibility,
        created_at=datetime.now(UTC),
    )
    session.add(model)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"a model named {name!r} already exists") from None
    return model


def _visible_to(viewer: uuid.UUID) -> Any:
    return or_(Model.owner_id == viewer, Model.visibility == "public")


async def get_model(session: AsyncSession, name: str, viewer: uuid.UUID | None = None) -> Model:
    """The model named ``name``; with a ``viewer``, only if that user may read it (404 otherwise,
    so a private model's existence is not revealed). Without one: internal callers only."""
    query = select(Model).where(Model.name == name)
    if viewer is not None:
        query = query.where(_visible_to(viewer))
    model = await session.scalar(query)
    if model is None:
        raise NotFound(f"no model named {name!r}")
    return model


async def update_model(
    session: AsyncSession,
    user_id: uuid.UUID,
    name: str,
    *,
    description: str | None,
    visibility: str | None,
    may_publish: bool,
) -> Model:
    model = await get_model(session, name, user_id)
    _require_owner(model, user_id)
    _check_publish(visibility, may_publish)
    if description is not None:
        model.description = description
    if visibility is not None:
        model.visibility = visibility
    await session.flush()
    return model


def _require_owner(model: Model, user_id: uuid.UUID) -> None:
    if model.owner_id != user_id:
        raise Forbidden(f"only the owner of model {model.name!r} may change it")


async def list_models(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None,
    viewer: uuid.UUID,
    owner_id: uuid.UUID | None,
    name_prefix: str | None,
) -> list[Model]:
    query = (
        select(Model)
        .where(_visible_to(viewer))
        .order_by(Model.created_at.desc(), Model.id.desc())
        .limit(limit)
    )
    if owner_id is not None:
        query = query.where(Model.owner_id == owner_id)
    if name_prefix:
        escaped = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Model.name.like(escaped + "%", escape="\\"))
    if (after := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        created_at, id_ = after
        query = query.where(
            or_(Model.created_at < created_at, and_(Model.created_at == created_at, Model.id < id_))
        )
    return list(await session.scalars(query))


async def check_lineage(
    session: AsyncSession,
    user_id: uuid.UUID,
    training_job_id: uuid.UUID | None,
    dataset_version_id: uuid.UUID | None,
    dataset_digest: str | None,
) -> None:
    """Lineage a client states must be its own: a succeeded job of the caller, consistent
    with the dataset fields (the dataset version itself is checked in register_version)."""
    if training_job_id is None:
        return
    job = await session.scalar(
        select(TrainingJob).where(
            TrainingJob.id == training_job_id,
            TrainingJob.owner_id == user_id,
            TrainingJob.state == JobState.SUCCEEDED,
        )
    )
    if job is None:
        raise InvalidRequest(f"training_job_id {training_job_id} is not a succeeded job of yours")
    if dataset_version_id is not None and dataset_version_id != job.dataset_version_id:
        raise InvalidRequest("dataset_version_id is not the training job's dataset version")
    if dataset_digest is not None and dataset_digest != job.dataset_digest:
        raise InvalidRequest("dataset_digest is not the training job's dataset digest")


async def register_version(
    session: AsyncSession,
    user_id: uuid.UUID,
    name: str,
    *,
    artifact_digest: str,
    artifact_uri: str | None,
    framework: str | None,
    training_job_id: uuid.UUID | None,
    dataset_version_id: uuid.UUID | None,
    dataset_digest: str | None,
    parameters: dict[str, Any],
    metrics: dict[str, float],
) -> tuple[Model, ModelVersion]:
    model = await get_model(session, name, user_id)
    _require_owner(model, user_id)
    if dataset_version_id is not None:
        try:
            _, dataset_version = await datasets.get_version_by_id(
                session, user_id, dataset_version_id
            )
        except NotFound:
            raise InvalidRequest(
                f"dataset_version_id {dataset_version_id} is not a dataset version of yours"
            ) from None
        if dataset_digest is not None and dataset_digest != dataset_version.sha256:
            raise InvalidRequest(
                "dataset_digest does not match the dataset version's digest",
                expected=dataset_version.sha256,
            )
        dataset_digest = dataset_version.sha256
    await session.execute(select(Model.id).where(Model.id == model.id).with_for_update())
    latest = await session.scalar(
        select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)
    )
    version = ModelVersion(
        id=uuid.uuid4(),
        model_id=model.id,
        version=(latest or 0) + 1,
        registered_by=user_id,
        training_job_id=training_job_id,
        dataset_version_id=dataset_version_id,
        dataset_digest=dataset_digest,
        parameters=parameters,
        metrics=metrics,
        artifact_digest=artifact_digest,
        artifact_uri=artifact_uri,
        framework=framework,
        registered_at=datetime.now(UTC),
    )
    session.add(version)
    await session.flush()
    await OUTBOX.publish(
        session,
        ModelVersionRegisteredV1(
            model_id=model.id,
            model_name=model.name,
            version=version.version,
            owner_id=user_id,
            artifact_digest=artifact_digest,
            artifact_uri=artifact_uri,
            framework=framework,
            training_job_id=training_job_id,
            dataset_version_id=dataset_version_id,
            registered_at=version.registered_at,
        ),
    )
    return model, version


async def list_versions(session: AsyncSession, model: Model) -> list[ModelVersion]:
    return list(
        await session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.version)
        )
    )


async def get_version(session: AsyncSession, model: Model, version: int) -> ModelVersion:
    found = await session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == version
        )
    )
    if found is None:
        raise NotFound(f"model {model.name!r} has no version {version}")
    return found


async def move_alias(
    session: AsyncSession, user_id: uuid.UUID, name: str, alias: str, version: int | None
) -> tuple[Model, AliasHistory, int | None]:
    """Point ``alias`` at ``version`` (None removes it); closes the current period."""
    if not ALIAS.match(alias):
        raise InvalidRequest(f"invalid alias {alias!r}: lowercase letters, digits, '-', '_'")
    model = await get_model(session, name, user_id)
    _require_owner(model, user_id)
    if version is not None:
        await get_version(session, model, version)
    await session.execute(select(Model.id).where(Model.id == model.id).with_for_update())
    current = await session.scalar(
        select(AliasHistory).where(
            AliasHistory.model_id == model.id,
            AliasHistory.alias == alias,
            AliasHistory.valid_to.is_(None),
        )
    )
    now = await session.scalar(select(func.clock_timestamp()))
    previous = current.version if current is not None else None
    if current is not None:
        current.valid_to = now
    period = AliasHistory(
        model_id=model.id, alias=alias, version=version, valid_from=now, moved_by=user_id
    )
    session.add(period)
    await session.flush()
    await OUTBOX.publish(
        session,
        ModelAliasMovedV1(
            model_id=model.id,
            model_name=model.name,
            alias=alias,
            version=version,
            previous_version=previous,
            moved_at=now,
        ),
    )
    return model, period, previous


async def alias_at(
    session: AsyncSession, viewer: uuid.UUID, name: str, alias: str, at: datetime | None
) -> AliasHistory:
    """The period of ``alias`` that contains ``at`` (now when None)."""
    model = await get_model(session, name, viewer)
    query = select(AliasHistory).where(
        AliasHistory.model_id == model.id, AliasHistory.alias == alias
    )
    if at is None:
        query = query.where(AliasHistory.valid_to.is_(None))
    else:
        query = query.where(
            AliasHistory.valid_from <= at,
            or_(AliasHistory.valid_to.is_(None), AliasHistory.valid_to > at),
        )
    period = await session.scalar(query)
    if period is None or period.version is None:
        when = f" at {at.isoformat()}" if at else ""
        raise NotFound(f"alias {alias!r} of model {name!r} pointed at no version{when}")
    return period


async def alias_history(
    session: AsyncSession, viewer: uuid.UUID, name: str, alias: str
) -> list[AliasHistory]:
    model = await get_model(session, name, viewer)
    return list(
        await session.scalars(
            select(AliasHistory)
            .where(AliasHistory.model_id == model.id, AliasHistory.alias == alias)
            .order_by(AliasHistory.valid_from)
        )
    )
