"""HTTP models of datasets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from vareon_neosyntis.datasets.models import Dataset, DatasetVersion


class Column(BaseModel):
    name: str
    type: str
    nullable: bool


class DatasetVersionOut(BaseModel):
    id: uuid.UUID
    version: int
    format: str
    size_bytes: int
    sha256: str
    row_count: int
    columns: list[Column]
    created_at: datetime

    @classmethod
    def of(cls, v: DatasetVersion) -> DatasetVersionOut:
        return cls(
            id=v.id,
            version=v.version,
            format=v.format,
            size_bytes=v.size_bytes,
            sha256=v.sha256,
            row_count=v.row_count,
            columns=[Column(**c) for c in v.columns],
            created_at=v.created_at,
        )


class DatasetOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    latest: DatasetVersionOut | None = None
    versions: list[DatasetVersionOut] | None = None

    @classmethod
    def of(cls, d: Dataset, **kwargs: Any) -> DatasetOut:
        return cls(id=d.id, name=d.name, created_at=d.created_at, **kwargs)


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    next_cursor: str | None
