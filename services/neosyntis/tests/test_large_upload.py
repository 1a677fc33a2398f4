"""A large upload streams: the service's memory stays flat, digest and row count are exact."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import psutil

from .conftest import API

TARGET_BYTES = int(os.environ.get("NEOSYNTIS_TEST_UPLOAD_MB", "200")) * 1024 * 1024
ROWS_PER_CHUNK = 20_000


async def test_large_csv_upload_keeps_memory_flat(client, app, user, settings):
    settings.max_upload_bytes = TARGET_BYTES + 10 * 1024 * 1024
    digest = hashlib.sha256()
    sent = {"bytes": 0, "rows": 0}

    async def body():
        header = b"id,amount,ratio,name\n"
        digest.update(header)
        sent["bytes"] += len(header)
        yield header
        i = 0
        while sent["bytes"] < TARGET_BYTES:
            chunk = "".join(
                f"{n},{n * 7 % 100003},{(n % 997) / 997:.6f},item-{n % 4099}\n"
                for n in range(i, i + ROWS_PER_CHUNK)
            ).encode()
            i += ROWS_PER_CHUNK
            digest.update(chunk)
            sent["bytes"] += len(chunk)
            sent["rows"] += ROWS_PER_CHUNK
            yield chunk

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = {"rss": baseline}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        response = await client.post(
            f"{API}/datasets", params={"name": "big", "format": "csv"}, content=body(), headers=user
        )
    finally:
        stop.set()
        sampler.join()
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.text
    latest = response.json()["latest"]
    assert latest["sha256"] == digest.hexdigest()
    assert latest["row_count"] == sent["rows"]
    assert latest["size_bytes"] == sent["bytes"]
    assert [c["type"] for c in latest["columns"]] == ["integer", "integer", "float", "string"]
    growth_mb = (peak["rss"] - baseline) / 1024 / 1024
    print(
        f"uploaded {sent['bytes'] / 2**20:.0f} MiB in {elapsed:.1f}s, peak RSS +{growth_mb:.0f} MiB"
    )
    assert growth_mb < 80, f"memory grew by {growth_mb:.0f} MiB during the upload"
