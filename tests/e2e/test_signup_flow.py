"""Register through the gateway and see the signup bonus arrive through a Kafka event."""

import asyncio
import uuid

import jwt
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vareon_contracts import encode_kafka
from vareon_contracts.topics import IDENTITY_USER

PROBLEM = "application/problem+json"


async def test_register_then_the_wallet_shows_the_bonus(platform):
    user = await platform.register()
    tokens = await platform.login(user["email"])
    wallet = await platform.wallet_with_bonus(tokens)
    assert wallet["posted_micro"] == platform.bonus

    me = await platform.gateway.get("/api/v1/auth/me", headers=platform.bearer(tokens))
    assert me.status_code == 200 and me.json()["email"] == user["email"]
    assert me.headers["x-request-id"]


async def test_refresh_rotates_and_an_old_refresh_token_is_refused(platform):
    user = await platform.register()
    tokens = await platform.login(user["email"])
    rotated = await platform.gateway.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    reused = await platform.gateway.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.headers["content-type"].startswith(PROBLEM)


async def test_client_errors_are_problems(platform):
    user = await platform.register()
    duplicate = await platform.gateway.post(
        "/api/v1/auth/register",
        json={"email": user["email"], "password": "another long password", "display_name": "X"},
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith(PROBLEM)

    wrong = await platform.gateway.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": "not the password at all"}
    )
    assert wrong.status_code == 401 and wrong.json()["status"] == 401

    malformed = await platform.gateway.post(
        "/api/v1/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["type"].endswith("/validation-error")

    missing = await platform.gateway.post("/api/v1/auth/register", json={"email": "a@b.co"})
    assert missing.status_code == 422
    assert {tuple(e["loc"])[-1] for e in missing.json()["errors"]} >= {"password"}


async def test_protected_routes_refuse_missing_and_forged_tokens(platform):
    anonymous = await platform.gateway.get("/api/v1/wallet")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith(PROBLEM)

    jwks = (await platform.gateway.get("/.well-known/jwks.json")).json()
    forged = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "iss": "vareon-identity",
            "aud": "vareon",
            "iat": 1,
            "exp": 4_000_000_000,
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": jwks["keys"][0]["kid"]},
    )
    for target in (platform.gateway.base_url, platform.wallet_url):
        response = await platform.gateway.get(
            f"{target}/api/v1/wallet".replace("//api", "/api"),
            headers={"Authorization": f"Bearer {forged}"},
        )
        assert response.status_code == 401, target


async def test_a_registered_event_delivered_twice_credits_once(platform, event_log, infrastructure):
    user = await platform.register()
    tokens = await platform.login(user["email"])
    await platform.wallet_with_bonus(tokens)
    [event] = await event_log.wait_for(IDENTITY_USER, lambda e: e.subject == user["id"])

    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        key, value, headers = encode_kafka(event)
        await producer.send_and_wait(IDENTITY_USER, value, key=key, headers=headers)
    finally:
        await producer.stop()
    # wallet's group has committed past both copies: the duplicate was handled, not pending
    await event_log.consumed(
        platform.groups + "wallet.users", IDENTITY_USER, lambda e: e.id == event.id, count=2
    )

    wallet = (await platform.gateway.get("/api/v1/wallet", headers=platform.bearer(tokens))).json()
    assert wallet["posted_micro"] == platform.bonus
    history = await platform.gateway.get(
        "/api/v1/wallet/transactions", headers=platform.bearer(tokens)
    )
    assert history.status_code == 200
    assert len(history.json()["items"]) == 1


async def test_system_status_shows_each_consumers_lag_and_dead_letters(platform):
    admin = await platform.register()
    await platform.make_admin(admin["email"])  # system status needs system:read
    headers = platform.bearer(await platform.login(admin["email"]))
    deadline = asyncio.get_running_loop().time() + 60  # a bound, not a window
    while True:
        response = await platform.gateway.get("/api/v1/system/status", headers=headers)
        assert response.status_code == 200, response.text
        status = response.json()
        wallet = status["services"]["wallet"]
        consumers = (wallet.get("messaging") or {}).get("consumers") or {}
        if "wallet.users" in consumers:
            break
        assert asyncio.get_running_loop().time() < deadline, wallet
        await asyncio.sleep(0.5)
    assert wallet["ready"] is True
    assert consumers["wallet.users"]["lag"] >= 0
    assert consumers["wallet.users"]["dead_letters"] >= 0
    assert status["services"]["myntrix"]["ready"] is False  # not started in these tests


async def test_an_admin_reads_any_users_wallet(platform):
    """Issue 16 item 16: `wallet:read-any` was granted to no role, so admin
    GET /wallet/{user_id} was a 403 for everyone."""
    user = await platform.register()
    await platform.wallet_with_bonus(await platform.login(user["email"]))
    admin = await platform.register()
    await platform.make_admin(admin["email"])
    tokens = await platform.login(admin["email"])
    response = await platform.gateway.get(
        f"/api/v1/wallet/{user['id']}", headers=platform.bearer(tokens)
    )
    assert response.status_code == 200, response.text
    assert response.json()["posted_micro"] == platform.bonus


@pytest.mark.timeout(240)
async def test_zz_broker_down_while_registering_the_event_arrives_when_it_returns(
    platform, infrastructure
):
    """Runs last in the module: the embedded broker restarts empty."""
    infrastructure.stop_broker()
    try:
        user = await platform.register()  # identity commits the user and its outbox row
        tokens = await platform.login(user["email"])
    finally:
        infrastructure.start_broker()
    # a bound, not a window: the relay backs off up to 10 s and every group rejoins an empty
    # broker; on a loaded machine that took over 60 s
    wallet = await platform.wallet_with_bonus(tokens, timeout_s=150)
    assert wallet["posted_micro"] == platform.bonus
