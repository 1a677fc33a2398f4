"""Per-user dataset quotas: stored bytes and number of versions."""

from __future__ import annotations

import pytest
from vareon_neosyntis.settings import NeosyntisSettings

from .conftest import API
from .test_datasets import upload


@pytest.fixture
def settings(settings: NeosyntisSettings) -> NeosyntisSettings:
    return settings.model_copy(
        update={"quota_max_dataset_bytes": 1000, "quota_max_dataset_versions": 3}
    )


def csv(rows: int) -> bytes:
    return b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(rows))


async def test_uploads_stop_at_the_owner_s_quotas(client, user, auth):
    """Issue 16 item 15: a user's stored dataset bytes and version count are bounded
    (settings); other users keep their own quota."""
    for n in range(3):
        assert (await upload(client, user, f"d{n}", csv(10))).status_code == 201
    fourth = await upload(client, user, "d3", csv(10))
    assert fourth.status_code == 403, fourth.text
    assert fourth.json()["type"].endswith("/dataset-quota-exceeded")
    assert "versions" in fourth.json()["detail"]

    other = auth(__import__("uuid").uuid4())
    assert (await upload(client, other, "small", csv(100))).status_code == 201  # 584 bytes
    big = await upload(client, other, "big", csv(100))  # 584 more: past 1000 bytes
    assert big.status_code == 403, big.text
    assert "bytes" in big.json()["detail"]
    listed = (await client.get(f"{API}/datasets", headers=other)).json()
    assert [d["name"] for d in listed["items"]] == ["small"]
