"""Dataset use cases: streamed upload into storage, versions, listing, soft delete."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import NotFound
from vareon_chassis.pagination import decode_cursor
from vareon_contracts.events.neosyntis import DatasetDeletedV1, DatasetVersionRegisteredV1

from vareon_neosyntis.datasets.ingest import FORMATS, inspector_for
from vareon_neosyntis.datasets.inspection import (
    Inspection,
    InvalidContent,
    ParquetLimits,
    UncompressedTooLarge,
)
from vareon_neosyntis.datasets.models import Dataset, DatasetVersion
from vareon_neosyntis.db import OUTBOX
from vareon_neosyntis.errors import (
    DatasetInUse,
    DatasetQuotaExceeded,
    InvalidRequest,
    MalformedDataset,
    PayloadTooLarge,
    UnsupportedFormat,
)
from vareon_neosyntis.registry.models import ModelVersion
from vareon_neosyntis.storage import ObjectWriter, Storage

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


def check_name(name: str, what: str = "dataset") -> str:
    if not NAME.match(name):
        raise InvalidRequest(
            f"invalid {what} name {name!r}: letters, digits, '.', '_', '-', "
            "starting with a letter or digit, at most 128 characters"
        )
    return name


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size_bytes: int
    inspection: Inspection


class _Ingest:
    """One pass over the bytes: hash, inspect and write (runs in a worker thread)."""

    def __init__(self, writer: ObjectWriter, fmt: str, parquet: ParquetLimits | None) -> None:
        self.writer = writer
        self.inspector = inspector_for(fmt, parquet)
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)
        self.inspector.feed(chunk)
        self.writer.write(chunk)

    def finish(self) -> Inspection:
        inspection = self.inspector.finish()
        self.writer.commit()
        return inspection

    def abort(self) -> None:
        self.inspector.abort()
        self.writer.abort()


async def _rechunk(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def store_upload(
    storage: Storage,
    key: str,
    fmt: str,
    chunks: AsyncIterator[bytes],
    *,
    max_bytes: int,
    chunk_bytes: int,
    parquet: ParquetLimits | None = None,
) -> StoredObject:
    """Stream ``chunks`` into ``key``; on any failure nothing remains in storage."""
    writer = await asyncio.to_thread(storage.writer, key)
    ingest = _Ingest(writer, fmt, parquet)
    try:
        async for chunk in _rechunk(chunks, chunk_bytes):
            if ingest.size + len(chunk) > max_bytes:
                raise PayloadTooLarge(
                    f"the upload exceeds the limit of {max_bytes} bytes", limit_bytes=max_bytes
                )
            await asyncio.to_thread(ingest.write, chunk)
        inspection = await asyncio.to_thread(ingest.finish)
    except BaseException as exc:
        await asyncio.shield(asyncio.to_thread(ingest.abort))
        if isinstance(exc, UncompressedTooLarge):
            raise PayloadTooLarge(exc.message) from None
        if isinstance(exc, InvalidContent):
            extensions: dict[str, Any] = {
                k: v for k, v in (("line", exc.line), ("column", exc.column)) if v
            }
            raise MalformedDataset(exc.message, **extensions) from None
        raise
    return StoredObject(key, ingest.hash.hexdigest(), ingest.size, inspection)


async def upload(
    session: AsyncSession,
    storage: Storage,
    *,
    owner_id: uuid.UUID,
    name: str,
    fmt: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    chunk_bytes: int,
    parquet: ParquetLimits | None = None,
    quota: Quota | None = None,
) -> tuple[Dataset, DatasetVersion]:
    check_name(name)
    if fmt not in FORMATS:
        raise UnsupportedFormat(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if quota is not None:
        await check_quota(session, owner_id, quota, adding_bytes=0)
    version_id = uuid.uuid4()
    key = f"datasets/{owner_id}/{version_id}.{EXTENSIONS[fmt]}"
    stored = await store_upload(
        storage, key, fmt, chunks, max_bytes=max_bytes, chunk_bytes=chunk_bytes, parquet=parquet
    )
    try:
        if quota is not None:  # again, serialised per owner, now that the size is known
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:owner))"), {"owner": str(owner_id)}
            )
            await check_quota(session, owner_id, quota, adding_bytes=stored.size_bytes)
        return await _record_version(session, owner_id, name, fmt, version_id, stored)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(storage.delete, key))
        raise


@dataclass(frozen=True)
class Quota:
    max_bytes: int
    max_versions: int


async def check_quota(
    session: AsyncSession, owner_id: uuid.UUID, quota: Quota, *, adding_bytes: int
) -> None:
    """Refuse a new version past the owner's stored bytes or version count."""
    used, versions = (
        await session.execute(
            select(func.coalesce(func.sum(DatasetVersion.size_bytes), 0), func.count())
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(Dataset.owner_id == owner_id, Dataset.deleted_at.is_(None))
        )
    ).one()
    if versions >= quota.max_versions:
        raise DatasetQuotaExceeded(
            f"you keep {versions} dataset versions, the quota is {quota.max_versions}",
            quota_versions=quota.max_versions,
        )
    if used + adding_bytes > quota.max_bytes or (adding_bytes == 0 and used >= quota.max_bytes):
        raise DatasetQuotaExceeded(
            f"{used + adding_bytes} bytes of datasets would pass the quota of "
            f"{quota.max_bytes} bytes",
            quota_bytes=quota.max_bytes,
        )


async def _record_version(
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    fmt: str,
    version_id: uuid.UUID,
    stored: StoredObject,
) -> tuple[Dataset, DatasetVersion]:
    await session.execute(
        insert(Dataset)
        .values(id=uuid.uuid4(), owner_id=owner_id, name=name)
        .on_conflict_do_nothing(
            index_elements=["owner_id", "name"], index_where=Dataset.deleted_at.is_(None)
        )
    )
    dataset = await session.scalar(
        select(Dataset)
        .where(Dataset.owner_id == owner_id, Dataset.name == name, Dataset.deleted_at.is_(None))
        .with_for_update()
    )
    assert dataset is not None
    latest = await session.scalar(
        select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
    )
    version = DatasetVersion(
        id=version_id,
        dataset_id=dataset.id,
        version=(latest or 0) + 1,
        format=fmt,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        row_count=stored.inspection.row_count,
        columns=stored.inspection.columns,
        storage_key=stored.key,
        created_at=datetime.now(UTC),
    )
    session.add(version)
    await session.flush()
    await OUTBOX.publish(
        session,
        DatasetVersionRegisteredV1(
            dataset_id=dataset.id,
            dataset_name=dataset.name,
            dataset_version_id=version.id,
            version=version.version,
            owner_id=owner_id,
            format=fmt,
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            row_count=stored.inspection.row_count,
            registered_at=version.created_at,
        ),
    )
    return dataset, version


async def get_dataset(session: AsyncSession, owner_id: uuid.UUID, name: str) -> Dataset:
    dataset = await session.scalar(
        select(Dataset).where(
            Dataset.owner_id == owner_id, Dataset.name == name, Dataset.deleted_at.is_(None)
        )
    )
    if dataset is None:
        raise NotFound(f"no dataset named {name!r}")
    return dataset


async def versions(session: AsyncSession, dataset: Dataset) -> list[DatasetVersion]:
    return list(
        await session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset.id)
            .order_by(DatasetVersion.version)
        )
    )


async def get_version(
    session: AsyncSession, owner_id: uuid.UUID, name: str, version: int
) -> tuple[Dataset, DatasetVersion]:
    dataset = await get_dataset(session, owner_id, name)
    found = await session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == version
        )
    )
    if found is None:
        raise NotFound(f"dataset {name!r} has no version {version}")
    return dataset, found


async def get_version_by_id(
    session: AsyncSession, owner_id: uuid.UUID, version_id: uuid.UUID
) -> tuple[Dataset, DatasetVersion]:
    row = (
        await session.execute(
            select(Dataset, DatasetVersion)
            .join(DatasetVersion)
            .where(
                DatasetVersion.id == version_id,
                Dataset.owner_id == owner_id,
                Dataset.deleted_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no dataset version {version_id}")
    return row[0], row[1]


async def list_datasets(
    session: AsyncSession,
    owner_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    name_prefix: str | None,
    fmt: str | None,
) -> list[tuple[Dataset, DatasetVersion]]:
    """The owner's live datasets with their latest version, newest first."""
    latest = (
        select(DatasetVersion.dataset_id, func.max(DatasetVersion.version).label("v"))
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )
    query = (
        select(Dataset, DatasetVersion)
        .join(latest, latest.c.dataset_id == Dataset.id)
        .join(
            DatasetVersion,
            and_(DatasetVersion.dataset_id == Dataset.id, DatasetVersion.version == latest.c.v),
        )
        .where(Dataset.owner_id == owner_id, Dataset.deleted_at.is_(None))
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
        .limit(limit)
    )
    if name_prefix:
        escaped = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Dataset.name.like(escaped + "%", escape="\\"))
    if fmt:
        query = query.where(DatasetVersion.format == fmt)
    if (after := decode_cursor(cursor, datetime, uuid.UUID)) is not None:
        created_at, id_ = after
        query = query.where(
            or_(
                Dataset.created_at < created_at,
                and_(Dataset.created_at == created_at, Dataset.id < id_),
            )
        )
    return [(d, v) for d, v in (await session.execute(query)).all()]


async def delete_dataset(session: AsyncSession, owner_id: uuid.UUID, name: str) -> None:
    """Soft delete; refused while a registered model version was trained on it."""
    dataset = await get_dataset(session, owner_id, name)
    await session.execute(select(Dataset.id).where(Dataset.id == dataset.id).with_for_update())
    referenced = list(
        await session.scalars(
            select(DatasetVersion.version)
            .join(ModelVersion, ModelVersion.dataset_version_id == DatasetVersion.id)
            .where(DatasetVersion.dataset_id == dataset.id)
            .distinct()
        )
    )
    if referenced:
        raise DatasetInUse(
            f"versions {sorted(referenced)} of dataset {name!r} are referenced "
            "by registered model versions",
            versions=sorted(referenced),
        )
    now = datetime.now(UTC)
    await session.execute(update(Dataset).where(Dataset.id == dataset.id).values(deleted_at=now))
    await OUTBOX.publish(
        session,
        DatasetDeletedV1(
            dataset_id=dataset.id, dataset_name=dataset.name, owner_id=owner_id, deleted_at=now
        ),
    )
