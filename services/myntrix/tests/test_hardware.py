import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from vareon_contracts import topics

from .conftest import API, heartbeat, register_device


async def test_registration_needs_the_permission_and_shows_the_credential_once(
    client, auth, operator
):
    refused = await client.post(f"{API}/hardware", headers=auth(uuid.uuid4()), json={"name": "x"})
    assert refused.status_code == 403
    device = await register_device(client, operator, capabilities=["gpu", "cuda12"])
    assert len(device["credential"]) >= 43 and device["connectivity"] == "offline"
    shown = await client.get(f"{API}/hardware/{device['id']}", headers=operator)
    assert shown.status_code == 200 and "credential" not in shown.json()


async def test_one_devices_credential_cannot_heartbeat_another_device(client, operator):
    a = await register_device(client, operator)
    b = await register_device(client, operator)
    forged = await heartbeat(client, b, credential=a["credential"])
    assert forged.status_code == 401
    assert forged.headers["www-authenticate"] == "Device"
    assert (
        await client.post(
            f"{API}/hardware/{b['id']}/heartbeat",
            headers=operator,
            json={
                "sent_at": datetime.now(UTC).isoformat(),
                "load": 1,
                "memory_percent": 1,
                "temperature_c": 1,
            },
        )
    ).status_code == 401  # a user JWT is not a device credential
    assert (await client.get(f"{API}/hardware/{b['id']}", headers=operator)).json()[
        "last_heartbeat_at"
    ] is None
    assert (await heartbeat(client, b)).status_code == 200


async def test_a_client_cannot_set_connectivity(client, operator):
    device = await register_device(client, operator)
    status = await client.put(
        f"{API}/hardware/{device['id']}/status",
        headers=operator,
        json={"admin_state": "active", "connectivity": "online"},
    )
    assert status.status_code == 422
    beat = await client.post(
        f"{API}/hardware/{device['id']}/heartbeat",
        headers={"Authorization": f"Device {device['credential']}"},
        json={
            "sent_at": datetime.now(UTC).isoformat(),
            "load": 0,
            "memory_percent": 0,
            "temperature_c": 20,
            "connectivity": "online",
        },
    )
    assert beat.status_code == 422
    assert (await client.get(f"{API}/hardware/{device['id']}", headers=operator)).json()[
        "connectivity"
    ] == "offline"
    maintenance = await client.put(
        f"{API}/hardware/{device['id']}/status",
        headers=operator,
        json={"admin_state": "maintenance"},
    )
    assert maintenance.status_code == 200 and maintenance.json()["admin_state"] == "maintenance"


async def test_a_silent_device_goes_offline_once_and_a_stale_heartbeat_never_revives_it(
    client, operator, event_log
):
    device = await register_device(client, operator, inactivity_timeout_s=0.6)
    first_sent = datetime.now(UTC)
    beat = await heartbeat(client, device, sent_at=first_sent)
    assert beat.status_code == 200 and beat.json()["accepted"] is True
    assert beat.json()["connectivity"] == "online"
    mine = lambda e: e.data["device_id"] == device["id"]  # noqa: E731

    offline = await event_log.wait_for(
        topics.MYNTRIX_DEVICE, lambda e: mine(e) and e.type.endswith("went-offline.v1")
    )
    assert offline[0].data["inactivity_timeout_s"] == 0.6
    shown = await client.get(f"{API}/hardware/{device['id']}", headers=operator)
    assert shown.json()["connectivity"] == "offline"

    stale = await heartbeat(client, device, sent_at=first_sent - timedelta(seconds=5))
    assert stale.status_code == 200 and stale.json()["accepted"] is False
    assert stale.json()["connectivity"] == "offline"
    await asyncio.sleep(0.5)  # room for several sweeps: none may announce it again

    revived = await heartbeat(client, device)
    assert revived.json()["accepted"] is True and revived.json()["connectivity"] == "online"
    await event_log.wait_for(
        topics.MYNTRIX_DEVICE, lambda e: mine(e) and e.type.endswith("came-online.v1"), count=2
    )
    # the revival is a later event on the device's partition (keyed by device): whatever the
    # stale heartbeat or the sweeps published is on the topic before it, not still on its way
    kinds = [
        e.type.rsplit(".", 2)[-2]
        for e in await event_log.all(topics.MYNTRIX_DEVICE, mine, settle_s=0)
    ]
    assert kinds[: kinds.index("came-online", 1) + 1] == [
        "came-online",
        "went-offline",
        "came-online",
    ]


async def test_a_heartbeat_from_the_future_is_refused(client, operator):
    device = await register_device(client, operator)
    response = await heartbeat(client, device, sent_at=datetime.now(UTC) + timedelta(days=1))
    assert response.status_code == 422


async def test_devices_are_filtered_and_paginated(client, operator, auth):
    gpu = await register_device(client, operator, name="a", capabilities=["gpu"])
    cpu = await register_device(client, operator, name="b", capabilities=["cpu"])
    await register_device(client, operator, name="c", capabilities=["gpu"])
    await heartbeat(client, gpu)
    await client.put(
        f"{API}/hardware/{cpu['id']}/status", headers=operator, json={"admin_state": "maintenance"}
    )

    async def ids(**params):
        response = await client.get(f"{API}/hardware", headers=operator, params=params)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["items"]]

    assert await ids(connectivity="online") == [gpu["id"]]
    assert len(await ids(connectivity="offline")) == 2
    assert await ids(admin_state="maintenance") == [cpu["id"]]
    assert len(await ids(capability="gpu")) == 2
    first = (await client.get(f"{API}/hardware", headers=operator, params={"limit": 2})).json()
    rest = (
        await client.get(
            f"{API}/hardware", headers=operator, params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    bad = await client.get(f"{API}/hardware", headers=operator, params={"cursor": "nope"})
    assert bad.status_code == 422
    assert (await client.get(f"{API}/hardware", headers=auth(uuid.uuid4()))).status_code == 403
