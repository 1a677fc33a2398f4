"""What every identity router needs: the caller (token, live user, live login), permissions
checked against the user's current roles, and the app's shared objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from vareon_chassis.auth import CurrentUser, Principal
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden, Unauthorized

from vareon_identity import service
from vareon_identity.addresses import client_address
from vareon_identity.models import User
from vareon_identity.passwords import Passwords
from vareon_identity.settings import IdentitySettings

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a path)
_oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)  # Swagger's Authorize


@dataclass(frozen=True)
class Caller:
    principal: Principal
    user: User
    session_id: UUID | None


def _session_id(request: Request) -> UUID | None:
    # The chassis verified this token already; only read the login (sid) it carries.
    token = request.headers["authorization"].split(" ", 1)[1]
    sid = jwt.decode(token, options={"verify_signature": False}).get("sid")
    return UUID(sid) if sid else None


async def _caller(
    request: Request,
    principal: CurrentUser,
    session: SessionDep,
    _: Annotated[str | None, Depends(_oauth2)],
) -> Caller:
    user = await service.active_user(session, principal.id)
    if user is None:
        raise Unauthorized("the account no longer exists")
    sid = _session_id(request)
    if sid is not None and await service.family_revoked(session, sid):
        raise Unauthorized("this session was signed out")
    return Caller(principal, user, sid)


CallerDep = Annotated[Caller, Depends(_caller)]


def requires(permission: str) -> Any:
    """The caller's current roles in this database decide, not the token (it may predate a
    demotion by up to its lifetime)."""

    async def check(caller: CallerDep) -> Caller:
        if permission not in caller.user.permission_names:
            raise Forbidden(f"missing permission {permission!r}")
        return caller

    return Depends(check)


def settings_of(request: Request) -> IdentitySettings:
    return request.app.state.settings


def passwords_of(request: Request) -> Passwords:
    return request.app.state.passwords


def client_of(request: Request) -> tuple[str | None, str | None]:
    """The user agent and the client's address (the gateway's X-Forwarded-For, if trusted)."""
    peer = request.client.host if request.client else None
    ip = client_address(
        peer, request.headers.get("x-forwarded-for"), request.app.state.trusted_proxies
    )
    return request.headers.get("user-agent"), ip
