"""Transfers are counted by kind once committed; an idempotent replay is not a transfer."""

import uuid

from prometheus_client import REGISTRY
from vareon_wallet.api import GRANT_PERMISSION


def transfers(kind):
    return REGISTRY.get_sample_value("vareon_wallet_transfers_total", {"kind": kind}) or 0.0


async def test_transfers_by_kind(client, auth):
    user, admin = uuid.uuid4(), uuid.uuid4()
    bonuses, grants = transfers("signup-bonus"), transfers("grant")
    await client.post("/api/v1/wallet", headers=auth(user))
    grant = {"user_id": str(user), "amount_micro": 1_000, "reason": "support"}
    headers = {**auth(admin, GRANT_PERMISSION), "Idempotency-Key": f"m-{user}"}
    for _ in range(2):  # the second is a replay of the first
        assert (await client.post("/api/v1/wallet/credits", json=grant, headers=headers)).is_success
    assert transfers("signup-bonus") == bonuses + 1
    assert transfers("grant") == grants + 1
    exposed = (await client.get("/metrics")).text
    assert 'vareon_wallet_transfers_total{kind="grant"}' in exposed


async def test_request_lines_name_the_user_never_the_token(capfd, client, auth):
    user = uuid.uuid4()
    headers = auth(user)
    assert (await client.post("/api/v1/wallet", headers=headers)).status_code == 201
    err = capfd.readouterr().err
    (line,) = [x for x in err.splitlines() if "/api/v1/wallet" in x and "request" in x]
    assert str(user) in line and "user_id" in line and "request_id" in line
    assert headers["Authorization"].split()[1] not in err
