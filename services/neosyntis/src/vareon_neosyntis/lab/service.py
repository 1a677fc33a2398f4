"""Open-lab use cases: start (or answer from cache) operations, run them in the background."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from vareon_chassis.errors import NotFound

from vareon_neosyntis.datasets import service as datasets
from vareon_neosyntis.datasets.models import DatasetVersion
from vareon_neosyntis.errors import InvalidRequest, LabOperationsBusy
from vareon_neosyntis.lab import operations
from vareon_neosyntis.lab.models import LabOperation, LabResult
from vareon_neosyntis.lab.readers import Readers, operate_file, preview_file, spool
from vareon_neosyntis.registry import service as registry
from vareon_neosyntis.storage import Storage

log = structlog.get_logger(__name__)


def parameters_key(parameters: dict[str, Any]) -> str:
    return json.dumps(parameters, sort_keys=True, separators=(",", ":"))


async def preview(
    session: AsyncSession,
    storage: Storage,
    readers: Readers,
    owner_id: uuid.UUID,
    name: str,
    version: int,
    limit: int,
    max_bytes: int,
) -> tuple[DatasetVersion, list[dict[str, Any]]]:
    _, found = await datasets.get_version(session, owner_id, name, version)

    async def read() -> list[dict[str, Any]]:
        with await asyncio.to_thread(spool, storage, found.storage_key) as f:
            rows: list[dict[str, Any]] = await readers.run(
                preview_file, f.name, found.format, found.columns, limit, max_bytes
            )
            return rows

    try:
        return found, await read()
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


async def start(
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    version: int,
    operation: str,
    parameters: dict[str, Any],
    max_running: int | None = None,
) -> tuple[LabOperation, bool]:
    """The new operation, and whether it still has to run (False: answered from cache).

    One that must run is refused while the owner has ``max_running`` queued or running
    (those of the last hour: one a crash left behind stops counting)."""
    _, found = await datasets.get_version(session, owner_id, name, version)
    if operation == "baseline":
        kinds = {c["name"]: c["type"] for c in found.columns}
        if parameters["target"] not in kinds:
            raise InvalidRequest(
                f"dataset {name!r} has no column {parameters['target']!r}",
                column=parameters["target"],
            )
    cached = await session.scalar(
        select(LabResult).where(
            LabResult.dataset_digest == found.sha256,
            LabResult.operation == operation,
            LabResult.parameters_key == parameters_key(parameters),
        )
    )
    now = datetime.now(UTC)
    if cached is None and max_running is not None:
        await _within_cap(session, owner_id, max_running, now)
    op = LabOperation(
        id=uuid.uuid4(),
        owner_id=owner_id,
        dataset_version_id=found.id,
        operation=operation,
        parameters=parameters,
        created_at=now,
        status="succeeded" if cached else "queued",
        progress=1.0 if cached else 0.0,
        cached=cached is not None,
        result=cached.result if cached else None,
        finished_at=now if cached else None,
    )
    session.add(op)
    await session.flush()
    return op, cached is None


async def _within_cap(
    session: AsyncSession, owner_id: uuid.UUID, max_running: int, now: datetime
) -> None:
    # One user's admissions queue on a transaction lock, so two cannot both see room.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(str(owner_id), 0)))
    )
    running = await session.scalar(
        select(func.count())
        .select_from(LabOperation)
        .where(
            LabOperation.owner_id == owner_id,
            LabOperation.status.in_(("queued", "running")),
            LabOperation.created_at > now - timedelta(hours=1),
        )
    )
    if (running or 0) >= max_running:
        raise LabOperationsBusy(
            f"{running} open-lab operations are still running; at most {max_running} at once"
        )


async def get_operation(
    session: AsyncSession, owner_id: uuid.UUID, op_id: uuid.UUID
) -> LabOperation:
    op = await session.get(LabOperation, op_id)
    if op is None or op.owner_id != owner_id:
        raise NotFound(f"no operation {op_id}")
    return op


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: Storage,
    readers: Readers,
    op_id: uuid.UUID,
    max_rows: int,
    max_bytes: int,
) -> None:
    """Run a queued operation in a reader process; its row says how it ended."""

    async def set_state(**values: Any) -> None:
        async with sessionmaker.begin() as session:
            await session.execute(
                update(LabOperation).where(LabOperation.id == op_id).values(**values)
            )

    try:
        async with sessionmaker() as session:
            op = await session.get(LabOperation, op_id)
            version = await session.get(DatasetVersion, op.dataset_version_id) if op else None
        if op is None or version is None:
            return
        await set_state(status="running")
        with await asyncio.to_thread(spool, storage, version.storage_key) as f:
            result: dict[str, Any] = await readers.run(
                operate_file,
                f.name,
                version.format,
                version.columns,
                max_rows,
                max_bytes,
                op.operation,
                op.parameters,
            )
        result["truncated"] = version.row_count > result["rows_used"]
        async with sessionmaker.begin() as session:
            await session.execute(
                insert(LabResult)
                .values(
                    id=uuid.uuid4(),
                    dataset_digest=version.sha256,
                    operation=op.operation,
                    parameters_key=parameters_key(op.parameters),
                    result=result,
                )
                .on_conflict_do_nothing()
            )
            await session.execute(
                update(LabOperation)
                .where(LabOperation.id == op_id)
                .values(
                    status="succeeded", progress=1.0, result=result, finished_at=datetime.now(UTC)
                )
            )
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(set_state(status="failed", error="cancelled at shutdown"))
        raise
    except Exception as exc:
        known = isinstance(exc, operations.BaselineError | ValueError)
        if not known:
            log.exception("lab operation failed", operation_id=str(op_id))
        await set_state(
            status="failed",
            finished_at=datetime.now(UTC),
            error=str(exc) if known else f"internal error ({type(exc).__name__})",
        )


async def compare(
    session: AsyncSession, viewer: uuid.UUID, name: str, versions: list[int] | None
) -> dict[str, Any]:
    model = await registry.get_model(session, name, viewer)
    found = await registry.list_versions(session, model)
    if versions:
        missing = sorted(set(versions) - {v.version for v in found})
        if missing:
            raise NotFound(f"model {name!r} has no versions {missing}")
        found = [v for v in found if v.version in set(versions)]
    metrics = sorted({m for v in found for m in v.metrics})
    table = {m: {str(v.version): v.metrics.get(m) for v in found} for m in metrics}
    return {
        "model": name,
        "versions": [{"version": v.version, "metrics": v.metrics} for v in found],
        "metrics": table,
    }
