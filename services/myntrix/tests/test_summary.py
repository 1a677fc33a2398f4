"""The dashboard's myntrix section: agents by status, devices for those who may see them."""

import uuid

from .conftest import API, register_device
from .test_agents import _agent


async def test_agents_by_status_and_devices_for_device_readers(client, auth, operator):
    alice = auth(uuid.uuid4())
    await _agent(client, alice)
    await _agent(client, alice, name="second")
    await _agent(client, auth(uuid.uuid4()))
    await register_device(client, operator)

    mine = (await client.get(f"{API}/summary", headers=alice)).json()
    assert mine == {"scope": "user", "agents_by_status": {"stopped": 2}, "devices": None}
    seen = (await client.get(f"{API}/summary", headers=operator)).json()
    assert seen["devices"]["total"] == 1 and seen["devices"]["heard_from"] == 0
    assert seen["devices"]["by_admin_state"] == {"active": 1}

    platform = {"scope": "platform"}
    assert (await client.get(f"{API}/summary", params=platform, headers=alice)).status_code == 403
    admin = auth(uuid.uuid4(), "system:read")
    totals = (await client.get(f"{API}/summary", params=platform, headers=admin)).json()
    assert totals["agents_by_status"] == {"stopped": 3}
    assert totals["devices"]["total"] == 1
