"""Dataset routes: the upload is the raw request body, read as a stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from vareon_chassis.auth import CurrentUser
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.pagination import Cursor, PageSize, encode_cursor

from vareon_neosyntis.datasets import service
from vareon_neosyntis.datasets.schemas import DatasetOut, DatasetPage, DatasetVersionOut
from vareon_neosyntis.errors import PayloadTooLarge, UnsupportedFormat

router = APIRouter(prefix="/api/v1/neosyntis/datasets", tags=["datasets"])
MEDIA_TYPES = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
DOWNLOAD_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def _format(request: Request, fmt: str | None) -> str:
    if fmt:
        return fmt
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in MEDIA_TYPES:
        return MEDIA_TYPES[media_type]
    raise UnsupportedFormat(
        "say the format with ?format=csv|jsonl|parquet or a Content-Type "
        f"of {', '.join(MEDIA_TYPES)}"
    )


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES},
        }
    },
)
async def upload_dataset(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    name: Annotated[str, Query(max_length=128)],
    format: Annotated[str | None, Query()] = None,
) -> DatasetOut:
    """Upload a file as the request body; the same name again makes a new version."""
    settings = request.app.state.settings
    fmt = _format(request, format)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"the upload exceeds the limit of {settings.max_upload_bytes} bytes",
            limit_bytes=settings.max_upload_bytes,
        )
    dataset, version = await service.upload(
        session,
        request.app.state.storage,
        owner_id=user.id,
        name=name,
        fmt=fmt,
        chunks=request.stream(),
        max_bytes=settings.max_upload_bytes,
        chunk_bytes=settings.upload_chunk_bytes,
        parquet=settings.parquet_limits(),
        quota=service.Quota(settings.quota_max_dataset_bytes, settings.quota_max_dataset_versions),
    )
    return DatasetOut.of(dataset, latest=DatasetVersionOut.of(version))


@router.get("", response_model=DatasetPage)
async def list_datasets(
    session: SessionDep,
    user: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
    name_prefix: str | None = None,
    format: str | None = None,
) -> DatasetPage:
    rows = await service.list_datasets(
        session, user.id, limit=limit, cursor=cursor, name_prefix=name_prefix, fmt=format
    )
    items = [DatasetOut.of(d, latest=DatasetVersionOut.of(v)) for d, v in rows]
    last = rows[-1][0] if len(rows) == limit else None
    return DatasetPage(
        items=items, next_cursor=encode_cursor(last.created_at, last.id) if last else None
    )


@router.get("/{name}", response_model=DatasetOut)
async def get_dataset(name: str, session: SessionDep, user: CurrentUser) -> DatasetOut:
    dataset = await service.get_dataset(session, user.id, name)
    versions = await service.versions(session, dataset)
    return DatasetOut.of(
        dataset,
        latest=DatasetVersionOut.of(versions[-1]),
        versions=[DatasetVersionOut.of(v) for v in versions],
    )


@router.get("/{name}/versions/{version}", response_model=DatasetVersionOut)
async def get_version(
    name: str, version: int, session: SessionDep, user: CurrentUser
) -> DatasetVersionOut:
    _, found = await service.get_version(session, user.id, name, version)
    return DatasetVersionOut.of(found)


@router.get("/{name}/versions/{version}/download")
async def download(
    name: str, version: int, request: Request, session: SessionDep, user: CurrentUser
) -> StreamingResponse:
    dataset, found = await service.get_version(session, user.id, name, version)
    filename = f"{dataset.name}-v{found.version}.{found.format}"
    return StreamingResponse(
        request.app.state.storage.read(found.storage_key),
        media_type=DOWNLOAD_TYPES[found.format],
        headers={
            "Content-Length": str(found.size_bytes),
            "ETag": f'"{found.sha256}"',
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@router.delete(
    "/{name}",
    status_code=204,
    responses={409: problem_response("Registered model versions reference it")},
)
async def delete_dataset(name: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete_dataset(session, user.id, name)
    return Response(status_code=204)
