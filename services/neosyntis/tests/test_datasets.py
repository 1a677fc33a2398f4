from __future__ import annotations

import hashlib
import io
import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from vareon_contracts import topics

from .conftest import API

CSV = b"id,score,label\n1,0.5,a\n2,1.5,b\n3,,a\n"


async def upload(client, headers, name, body, fmt="csv", **params):
    return await client.post(
        f"{API}/datasets",
        params={"name": name, "format": fmt, **params},
        content=body,
        headers=headers,
    )


def storage_files(app):
    root = app.state.storage.root
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_upload_versions_download_and_list(client, app, user, auth, event_log):
    first = await upload(client, user, "scores", CSV)
    assert first.status_code == 201, first.text
    latest = first.json()["latest"]
    assert latest["version"] == 1
    assert latest["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert latest["row_count"] == 3
    assert latest["columns"] == [
        {"name": "id", "type": "integer", "nullable": False},
        {"name": "score", "type": "float", "nullable": True},
        {"name": "label", "type": "string", "nullable": False},
    ]
    second = await upload(client, user, "scores", CSV + b"4,2.0,c\n")
    assert second.json()["latest"]["version"] == 2

    got = await client.get(f"{API}/datasets/scores", headers=user)
    assert [v["version"] for v in got.json()["versions"]] == [1, 2]
    download = await client.get(f"{API}/datasets/scores/versions/1/download", headers=user)
    assert download.status_code == 200 and download.content == CSV

    for name in ("other-a", "other-b"):
        assert (await upload(client, user, name, CSV)).status_code == 201
    page = await client.get(f"{API}/datasets", params={"limit": 2}, headers=user)
    assert [d["name"] for d in page.json()["items"]] == ["other-b", "other-a"]
    rest = await client.get(
        f"{API}/datasets", headers=user, params={"limit": 2, "cursor": page.json()["next_cursor"]}
    )
    assert [d["name"] for d in rest.json()["items"]] == ["scores"]
    assert rest.json()["items"][0]["latest"]["version"] == 2
    filtered = await client.get(f"{API}/datasets", params={"name_prefix": "other"}, headers=user)
    assert len(filtered.json()["items"]) == 2

    stranger = auth(uuid.uuid4())
    assert (await client.get(f"{API}/datasets/scores", headers=stranger)).status_code == 404
    assert (await client.get(f"{API}/datasets", headers=stranger)).json()["items"] == []
    assert (await client.get(f"{API}/datasets")).status_code == 401

    dataset_id = first.json()["id"]
    events = await event_log.wait_for(
        topics.NEOSYNTIS_DATASET, lambda e: e.data["dataset_id"] == dataset_id, count=2
    )
    assert sorted(e.data["version"] for e in events) == [1, 2]


async def test_jsonl_and_parquet_are_inspected(client, user):
    lines = b'{"x": 1, "y": "a"}\n{"x": 2.5, "y": null}\n\n{"x": 3}\n'
    response = await upload(client, user, "lines", lines, fmt="jsonl")
    assert response.status_code == 201, response.text
    latest = response.json()["latest"]
    assert latest["row_count"] == 3
    assert latest["columns"] == [
        {"name": "x", "type": "float", "nullable": False},
        {"name": "y", "type": "string", "nullable": True},
    ]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3, 4], "b": ["p", "q", None, "s"]}), buffer)
    response = await client.post(
        f"{API}/datasets",
        params={"name": "pq"},
        content=buffer.getvalue(),
        headers={**user, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["latest"]["row_count"] == 4
    assert [c["type"] for c in response.json()["latest"]["columns"]] == ["integer", "string"]


async def test_malformed_and_truncated_files_leave_nothing(client, app, user):
    cases = [
        ("csv", b"a,b,c\n1,2,3\n4,5,6\n7,8\n", 4),  # truncated row
        ("csv", b'a,b\n1,"never closed\n', 2),  # truncated inside a quote
        ("jsonl", b'{"a": 1}\n{"a": 2}\n{"a": \n', 3),  # truncated JSON
        ("parquet", b"PAR1" + b"\0" * 100, None),  # no footer
    ]
    for fmt, body, line in cases:
        response = await upload(client, user, "broken", body, fmt=fmt)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["type"].endswith("/malformed-dataset")
        assert problem.get("line") == line, problem
    assert (await client.get(f"{API}/datasets/broken", headers=user)).status_code == 404
    assert storage_files(app) == []


async def test_size_limit_is_a_413_and_leaves_nothing(client, app, user, settings):
    limit = settings.max_upload_bytes

    async def body():
        row = b"1,2,3\n" * 100_000
        yield b"a,b,c\n"
        sent = 0
        while sent <= limit:
            yield row
            sent += len(row)

    response = await client.post(
        f"{API}/datasets", params={"name": "huge", "format": "csv"}, content=body(), headers=user
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert storage_files(app) == []


async def test_unknown_format_and_bad_name(client, user):
    response = await client.post(
        f"{API}/datasets",
        params={"name": "x"},
        content=b"a\n1\n",
        headers={**user, "Content-Type": "application/pdf"},
    )
    assert response.status_code == 415
    response = await upload(client, user, "../etc", CSV)
    assert response.status_code == 422


async def test_delete_is_soft_and_refused_while_a_model_uses_it(client, user):
    created = await upload(client, user, "train", CSV)
    version = created.json()["latest"]
    assert (
        await client.post(f"{API}/models", json={"name": f"m-{uuid.uuid4().hex[:6]}"}, headers=user)
    ).status_code == 201
    models = (await client.get(f"{API}/models", params={"mine": True}, headers=user)).json()
    name = models["items"][0]["name"]
    registered = await client.post(
        f"{API}/models/{name}/versions",
        headers=user,
        json={"artifact_digest": "sha256:" + "a" * 64, "dataset_version_id": version["id"]},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["dataset_digest"] == version["sha256"]
    refused = await client.delete(f"{API}/datasets/train", headers=user)
    assert refused.status_code == 409 and refused.json()["versions"] == [1]

    assert (await upload(client, user, "scratch", CSV)).status_code == 201
    assert (await client.delete(f"{API}/datasets/scratch", headers=user)).status_code == 204
    assert (await client.get(f"{API}/datasets/scratch", headers=user)).status_code == 404
    again = await upload(client, user, "scratch", CSV)
    assert again.json()["latest"]["version"] == 1  # a new dataset under the freed name
    assert json.loads(again.text)["id"] != created.json()["id"]
