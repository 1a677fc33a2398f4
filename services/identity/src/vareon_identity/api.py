"""Identity's HTTP routes, at the same paths as the public API (the gateway forwards as is).

Every route needs a bearer access token except register, login, token, refresh, google and
verify-email (they are how a client obtains one, or proves an address without being signed in)
and the JWKS (it is how every service verifies tokens, so it must be
readable without one). Identity checks its own tokens with its local key ring, and also checks
that the user still exists and that the token's login was not revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    Form,
    Query,
    Request,
    Response,
    status,
)
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import CurrentUser, Principal
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import Forbidden, Unauthorized, problem_response
from vareon_chassis.pagination import Cursor

from vareon_identity import google, service, verification
from vareon_identity.addresses import client_address
from vareon_identity.errors import GoogleSignInDisabled, RecentLoginRequired, RefreshTokenReused
from vareon_identity.keys import KeyRing
from vareon_identity.mailer import MailSender
from vareon_identity.models import User
from vareon_identity.passwords import Passwords
from vareon_identity.schemas import (
    AccountDeletion,
    GoogleSignInRequest,
    LoginRequest,
    PasswordChange,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    SessionOut,
    TokenResponse,
    UserOut,
    UserPage,
    VerifyEmailRequest,
)
from vareon_identity.settings import IdentitySettings
from vareon_identity.throttle import ActionLimit, LoginThrottle
from vareon_identity.tokens import TokenIssuer

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 (a path)
_oauth2 = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)  # Swagger's Authorize

router = APIRouter(tags=["identity"])
auth = APIRouter(prefix="/api/v1/auth")
users = APIRouter(prefix="/api/v1/users")


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


def _settings(request: Request) -> IdentitySettings:
    return request.app.state.settings


def _passwords(request: Request) -> Passwords:
    return request.app.state.passwords


def _client(request: Request) -> tuple[str | None, str | None]:
    """The user agent and the client's address (the gateway's X-Forwarded-For, if trusted)."""
    peer = request.client.host if request.client else None
    ip = client_address(
        peer, request.headers.get("x-forwarded-for"), request.app.state.trusted_proxies
    )
    return request.headers.get("user-agent"), ip


async def _tokens_for(
    request: Request, session: AsyncSession, user: User, issued: service.IssuedRefresh
) -> TokenResponse:
    issuer: TokenIssuer = request.app.state.token_issuer
    assert user.email is not None
    access = issuer.issue(
        user_id=user.id,
        email=user.email,
        roles=user.role_names,
        permissions=user.permission_names,
        session_id=issued.session.family_id,
        email_verified=user.email_verified_at is not None,
    )
    return TokenResponse(access_token=access, expires_in=issuer.ttl_s, refresh_token=issued.token)


async def _login(
    request: Request, session: AsyncSession, email: str, password: str
) -> TokenResponse:
    throttle: LoginThrottle = request.app.state.login_throttle
    user_agent, ip = _client(request)
    email = service.normalise_email(email)  # the throttle's key is the account's
    attempt = throttle.attempt(email, ip)
    user = await service.authenticate(session, _passwords(request), email=email, password=password)
    throttle.succeeded(attempt)
    ttl_s = _settings(request).refresh_token_ttl_s
    issued = await service.start_session(session, user, ttl_s=ttl_s, user_agent=user_agent, ip=ip)
    return await _tokens_for(request, session, user, issued)


async def _send_verification(
    request: Request, session: AsyncSession, user: User, tasks: BackgroundTasks
) -> None:
    settings = _settings(request)
    await verification.send_verification(
        session,
        user,
        ttl_s=settings.email_verification_ttl_s,
        public_base_url=settings.public_base_url,
    )
    mailer: MailSender = request.app.state.mail_sender
    tasks.add_task(mailer.wake)  # background tasks run after the commit


@auth.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={
        409: problem_response("The address is already registered"),
        429: problem_response("Too many sign-ups from this address; see Retry-After"),
        503: problem_response("Busy: retry after Retry-After"),
    },
)
async def register(
    body: RegisterRequest, request: Request, session: SessionDep, tasks: BackgroundTasks
) -> User:
    """Create an account and mail a verification link to its address."""
    register_limit: ActionLimit = request.app.state.register_limit
    register_limit.hit(_client(request)[1] or "unknown")
    user = await service.register(
        session,
        _passwords(request),
        email=body.email,
        password=body.password,
        display_name=body.display_name,
    )
    await _send_verification(request, session, user, tasks)
    return user


@auth.post(
    "/verify-email",
    response_model=UserOut,
    responses={400: problem_response("Unknown, used or expired token")},
)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> User:
    """Redeem the token from the verification mail (single use; expires)."""
    return await verification.verify_email(session, body.token)


@auth.post(
    "/resend-verification",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        409: problem_response("The address is already verified"),
        429: problem_response("Too many mails asked for; see Retry-After"),
    },
)
async def resend_verification(
    request: Request, caller: CallerDep, session: SessionDep, tasks: BackgroundTasks
) -> Response:
    """Mail a new verification link (earlier ones stay valid until they expire)."""
    per_ip: ActionLimit = request.app.state.resend_limit_per_ip
    per_ip.hit(_client(request)[1] or "unknown")
    limit: ActionLimit = request.app.state.resend_limit
    limit.hit(str(caller.user.id))
    await _send_verification(request, session, caller.user, tasks)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth.post(
    "/google",
    response_model=TokenResponse,
    responses={
        401: problem_response("The Google ID token is not valid"),
        404: problem_response("Google sign-in is not enabled"),
    },
)
async def google_sign_in(
    body: GoogleSignInRequest, request: Request, session: SessionDep
) -> TokenResponse:
    """Sign in with a Google ID token: links to the account of that verified email, or makes one."""
    verifier: google.GoogleVerifier | None = request.app.state.google_verifier
    if verifier is None:
        raise GoogleSignInDisabled("Google sign-in is not configured (IDENTITY_GOOGLE_CLIENT_ID)")
    account = await verifier.verify(body.id_token)
    user = await google.sign_in(session, account)
    user_agent, ip = _client(request)
    ttl_s = _settings(request).refresh_token_ttl_s
    issued = await service.start_session(session, user, ttl_s=ttl_s, user_agent=user_agent, ip=ip)
    return await _tokens_for(request, session, user, issued)


@auth.post(
    "/login",
    response_model=TokenResponse,
    responses={
        401: problem_response("Wrong email or password"),
        429: problem_response("Too many attempts; see Retry-After"),
        503: problem_response("Busy: retry after Retry-After"),
    },
)
async def login(body: LoginRequest, request: Request, session: SessionDep) -> TokenResponse:
    return await _login(request, session, body.email, body.password)


@auth.post(
    "/token",
    response_model=TokenResponse,
    responses={
        401: problem_response("Wrong email or password"),
        429: problem_response("Too many attempts; see Retry-After"),
        503: problem_response("Busy: retry after Retry-After"),
    },
)
async def token(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=320, description="Your email")],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenResponse:
    """OAuth2 password flow (form fields), for Swagger's Authorize button."""
    return await _login(request, session, username, password)


@auth.post(
    "/refresh",
    response_model=TokenResponse,
    responses={401: problem_response("Unknown, revoked or expired refresh token")},
)
async def refresh(body: RefreshRequest, request: Request, session: SessionDep) -> TokenResponse:
    user_agent, ip = _client(request)
    try:
        user, issued = await service.rotate(
            session,
            body.refresh_token,
            user_agent=user_agent,
            ip=ip,
            ttl_s=_settings(request).refresh_token_ttl_s,
            max_lifetime_s=_settings(request).refresh_session_max_lifetime_s,
        )
    except RefreshTokenReused:
        await session.commit()  # the family's revocation must outlive this rejected request
        raise
    return await _tokens_for(request, session, user, issued)


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, caller: CallerDep, session: SessionDep) -> Response:
    await service.logout(session, caller.user.id, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(caller: CallerDep, session: SessionDep) -> Response:
    await service.logout_all(session, caller.user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.get("/me", response_model=UserOut)
async def me(caller: CallerDep) -> User:
    return caller.user


@auth.patch("/me", response_model=UserOut)
async def update_me(body: ProfileUpdate, caller: CallerDep, session: SessionDep) -> User:
    changes = body.model_dump(mode="json", exclude_unset=True)
    if changes.get("display_name") is None:
        changes.pop("display_name", None)  # a name is required; null leaves it as it is
    if "preferences" in changes and changes["preferences"] is None:
        changes["preferences"] = {}
    return await service.update_profile(session, caller.user, changes)


async def _reauthenticate(request: Request, caller: Caller, password: str) -> None:
    """The current password, under the same throttle as logins (a stolen access token must
    not become a way to guess it)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    assert caller.user.email is not None
    attempt = throttle.attempt(caller.user.email, _client(request)[1])
    await service.check_password(_passwords(request), caller.user, password)
    throttle.succeeded(attempt)


async def _recent_login(request: Request, caller: Caller, session: AsyncSession) -> None:
    max_age = timedelta(seconds=_settings(request).reauthentication_max_age_s)
    started = (
        await service.login_started_at(session, caller.session_id) if caller.session_id else None
    )
    if started is None or datetime.now(UTC) - started > max_age:
        raise RecentLoginRequired("sign in again (at most a few minutes ago) to do this")


@auth.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(
    body: AccountDeletion, request: Request, caller: CallerDep, session: SessionDep
) -> Response:
    """Delete the account: needs the current password, or a recent login if it has none."""
    if caller.user.password_hash is not None:
        if body.password is None:
            raise RecentLoginRequired("send the account's current password as `password`")
        await _reauthenticate(request, caller, body.password)
    else:
        await _recent_login(request, caller, session)
    await service.delete_user(session, caller.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, request: Request, caller: CallerDep, session: SessionDep
) -> Response:
    """Change the password; every other session is signed out, this one stays."""
    await _reauthenticate(request, caller, body.current_password)
    await service.change_password(
        session,
        _passwords(request),
        caller.user,
        new=body.new_password,
        keep_family=caller.session_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.get("/sessions", response_model=list[SessionOut])
async def sessions(caller: CallerDep, session: SessionDep) -> list[SessionOut]:
    rows = await service.active_sessions(session, caller.user.id)
    return [SessionOut(**row, current=row["id"] == caller.session_id) for row in rows]


@users.get("", response_model=UserPage)
async def list_users(
    session: SessionDep,
    _: Caller = requires("users:read"),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> UserPage:
    found, next_cursor = await service.list_users(session, limit=limit, cursor=cursor)
    return UserPage(items=[UserOut.model_validate(u) for u in found], next_cursor=next_cursor)


@users.post("/{user_id}/roles/{role}", response_model=UserOut)
async def grant_role(
    user_id: UUID, role: str, session: SessionDep, _: Caller = requires("users:write")
) -> User:
    return await service.grant_role(session, user_id, role)


@users.delete("/{user_id}/roles/{role}", response_model=UserOut)
async def revoke_role(
    user_id: UUID, role: str, session: SessionDep, _: Caller = requires("users:write")
) -> User:
    return await service.revoke_role(session, user_id, role)


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict[str, Any]:
    keys: KeyRing = request.app.state.key_ring
    return keys.public_jwks()


router.include_router(auth)
router.include_router(users)
