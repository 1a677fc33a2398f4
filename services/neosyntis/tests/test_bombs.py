"""Parquet decompression bombs: refused at ingest, and read only under byte budgets."""

from __future__ import annotations

import io
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vareon_neosyntis.lab.readers import ReaderFailed, Readers
from vareon_neosyntis.settings import MIB, NeosyntisSettings

from .conftest import API
from .test_lab import wait_done


@pytest.fixture
def settings(settings: NeosyntisSettings) -> NeosyntisSettings:
    return settings.model_copy(
        update={
            "parquet_max_uncompressed_bytes": 64 * MIB,
            "parquet_max_compression_ratio": 500.0,
            "reader_max_bytes": 16 * MIB,
        }
    )


def parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", compression_level=19)
    return buffer.getvalue()


def bomb(rows: int, mib: int = 4) -> bytes:
    """Big repetitive strings, each distinct: kilobytes on disk, ``rows x mib`` MiB decoded."""
    size = mib * MIB - 8
    return parquet(
        pa.table({"n": list(range(rows)), "s": ["a" * size + f"{i:08d}" for i in range(rows)]})
    )


def amplified(rows: int, mib: int = 1) -> bytes:
    """One incompressible ``mib`` MiB string repeated: the metadata looks honest (ratio ~2),
    but every row decodes to its own copy."""
    big = os.urandom(mib * MIB // 2).hex()
    return parquet(pa.table({"n": list(range(rows)), "s": [big] * rows}))


async def upload(client, user, name: str, body: bytes):
    return await client.post(
        f"{API}/datasets", params={"name": name, "format": "parquet"}, content=body, headers=user
    )


async def test_a_parquet_bomb_is_refused_at_ingest(client, user):
    """Issue 16 item 5: a 7.8 KB zstd file of 50 x 4 MiB strings (200 MiB decoded) is refused
    from its metadata: 413 past the uncompressed-size limit, 422 past the compression ratio."""
    huge = await upload(client, user, "huge", bomb(50))
    assert huge.status_code == 413, huge.text
    assert huge.headers["content-type"] == "application/problem+json"
    assert "uncompressed" in huge.json()["detail"]
    dense = await upload(client, user, "dense", bomb(8))  # 32 MiB decoded, under the limit
    assert dense.status_code == 422, dense.text
    assert "compression ratio" in dense.json()["detail"]
    listed = (await client.get(f"{API}/datasets", headers=user)).json()
    assert listed["items"] == [] if isinstance(listed, dict) else listed == []


async def test_readers_stop_at_their_byte_budget(client, user):
    """Issue 16 item 5: what the metadata cannot show (dictionary amplification) is stopped
    by the readers' byte budget: preview and profile refuse instead of loading 64 MiB."""
    stored = await upload(client, user, "amplified", amplified(64))
    assert stored.status_code == 201, stored.text
    ref = {"dataset": "amplified", "version": 1}
    preview = await client.post(f"{API}/open-lab/preview", headers=user, json={**ref, "limit": 100})
    assert preview.status_code == 422, preview.text[:300]
    assert "budget" in preview.json()["detail"]
    started = await client.post(f"{API}/open-lab/profile", headers=user, json=ref)
    done = await wait_done(client, user, started.json())
    assert done["status"] == "failed" and "budget" in done["error"]
    small = await client.post(f"{API}/open-lab/preview", headers=user, json={**ref, "limit": 2})
    assert small.status_code == 200 and len(small.json()["rows"]) == 2


async def test_a_reader_past_its_memory_limit_fails_alone():
    """Issue 16 item 5: what gets past the metadata checks and the byte budget exhausts the
    reader process's address-space limit (where previews and lab operations run), not the
    API process; the next read gets a fresh process."""
    readers = Readers(1536 * MIB)
    try:
        with pytest.raises(ReaderFailed, match="memory"):
            await readers.run(bytearray, 4 << 30)
        assert await readers.run(len, b"still serving") == 13
    finally:
        readers.close()
