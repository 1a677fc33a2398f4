"""Token checks every service shares (issue 16 item 14)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from vareon_chassis.auth import CurrentUser
from vareon_chassis.errors import Unauthorized, install_problem_handlers
from vareon_chassis.revocations import RevokedSessions
from vareon_chassis.testing.tokens import TestSigningKey


async def test_a_token_issued_a_second_ahead_of_this_clock_is_accepted() -> None:
    """Issue 16 item 14: PyJWT refused an `iat` one second in the future ("not yet valid"),
    so a verifier whose clock lags identity's refused fresh tokens."""
    key = TestSigningKey()
    ahead = int(time.time()) + 2
    principal = await key.verifier().verify(key.token(iat=ahead, exp=ahead + 600))
    assert principal.email


async def test_skew_beyond_the_leeway_is_still_refused() -> None:
    key = TestSigningKey()
    with pytest.raises(Unauthorized):
        await key.verifier().verify(key.token(iat=int(time.time()) + 3600))
    with pytest.raises(Unauthorized, match="expired"):
        await key.verifier().verify(key.token(exp=int(time.time()) - 120))


async def test_a_revoked_session_is_refused_before_its_token_expires() -> None:
    """Issue 16 item 14: logout-all, password change, role revocation and deletion took
    effect in other services only when the access token expired."""
    key = TestSigningKey()
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = key.verifier()
    app.state.revoked_sessions = revoked = RevokedSessions(keep_s=900)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"id": str(user.id)}

    signed_out, other = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:

        def get(sid: uuid.UUID) -> Awaitable[httpx.Response]:
            return http.get("/me", headers={"Authorization": f"Bearer {key.token(sid=str(sid))}"})

        assert (await get(signed_out)).status_code == 200
        revoked.add([signed_out], datetime.now(UTC))
        assert (await get(signed_out)).status_code == 401
        assert (await get(other)).status_code == 200


def test_revocations_are_forgotten_once_no_token_of_theirs_can_be_valid() -> None:
    now = [1_000_000.0]
    revoked = RevokedSessions(keep_s=900, clock=lambda: now[0])
    sid = uuid.uuid4()
    revoked.add([sid], datetime.fromtimestamp(now[0], UTC))
    assert sid in revoked
    now[0] += 901
    assert sid not in revoked
    revoked.add([uuid.uuid4()], datetime.fromtimestamp(now[0], UTC) - timedelta(seconds=1000))
    assert len(revoked) == 1  # arrived already expired: never stored
