"""Events published by neosyntis: datasets, the model registry, training and workflows."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalog import EventPayload, register


@register
class ModelVersionRegisteredV1(EventPayload):
    """An immutable model version entered the registry (key: model name)."""

    event_type = "vareon.neosyntis.model.version-registered.v1"
    topic = topics.NEOSYNTIS_MODEL
    key_field = "model_name"

    model_id: UUID
    model_name: str
    version: int
    owner_id: UUID | None = None
    artifact_digest: str
    artifact_uri: str | None = None
    framework: str | None = None
    training_job_id: UUID | None = None
    dataset_version_id: UUID | None = None
    registered_at: datetime


@register
class ModelAliasMovedV1(EventPayload):
    """An alias (``champion``, ``staging``...) now points at ``version`` (None: removed)."""

    event_type = "vareon.neosyntis.model.alias-moved.v1"
    topic = topics.NEOSYNTIS_MODEL
    key_field = "model_name"

    model_id: UUID
    model_name: str
    alias: str
    version: int | None
    previous_version: int | None = None
    moved_at: datetime


@register
class DatasetVersionRegisteredV1(EventPayload):
    """A new immutable version of a dataset was uploaded (key: dataset id)."""

    event_type = "vareon.neosyntis.dataset.version-registered.v1"
    topic = topics.NEOSYNTIS_DATASET
    key_field = "dataset_id"

    dataset_id: UUID
    dataset_name: str
    dataset_version_id: UUID
    version: int
    owner_id: UUID
    format: str
    sha256: str
    size_bytes: int
    row_count: int
    registered_at: datetime


@register
class DatasetDeletedV1(EventPayload):
    """A dataset and all its versions were deleted (soft) by its owner (key: dataset id)."""

    event_type = "vareon.neosyntis.dataset.deleted.v1"
    topic = topics.NEOSYNTIS_DATASET
    key_field = "dataset_id"

    dataset_id: UUID
    dataset_name: str
    owner_id: UUID
    deleted_at: datetime
