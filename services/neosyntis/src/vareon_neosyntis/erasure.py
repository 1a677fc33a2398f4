"""Erasure of a deleted user: their datasets and files go; lineage that must stay is
anonymised (model versions keep their digests but lose who registered them)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis import idempotency

from vareon_neosyntis.datasets.models import Dataset, DatasetVersion
from vareon_neosyntis.db import IDEMPOTENCY_KEYS
from vareon_neosyntis.lab.models import LabOperation, LabResult
from vareon_neosyntis.registry.models import AliasHistory, Model, ModelVersion
from vareon_neosyntis.storage import Storage


async def erase_user(session: AsyncSession, storage: Storage, user_id: uuid.UUID) -> int:
    """Returns how many stored files were removed. Idempotent (a retry redoes nothing harmful)."""
    rows = (
        await session.execute(
            select(DatasetVersion.storage_key, DatasetVersion.sha256)
            .join(Dataset)
            .where(Dataset.owner_id == user_id)
        )
    ).all()
    digests = {r.sha256 for r in rows}
    if digests:
        await session.execute(delete(LabResult).where(LabResult.dataset_digest.in_(digests)))
    await session.execute(delete(LabOperation).where(LabOperation.owner_id == user_id))
    # Model versions trained on these datasets keep the digest; the FK becomes NULL.
    await session.execute(delete(Dataset).where(Dataset.owner_id == user_id))
    await session.execute(
        update(ModelVersion).where(ModelVersion.registered_by == user_id).values(registered_by=None)
    )
    await session.execute(update(Model).where(Model.owner_id == user_id).values(owner_id=None))
    await session.execute(
        update(AliasHistory).where(AliasHistory.moved_by == user_id).values(moved_by=None)
    )
    await idempotency.forget_owner(session, IDEMPOTENCY_KEYS, user_id)
    for row in rows:
        await asyncio.to_thread(storage.delete, row.storage_key)
    return len(rows)
