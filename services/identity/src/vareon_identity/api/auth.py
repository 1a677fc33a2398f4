"""Identity's HTTP routes, at the same paths as the public API (the gateway forwards as is).

Every route needs a bearer access token except register, login, token, refresh, google and
verify-email (they are how a client obtains one, or proves an address without being signed in)
and the JWKS (it is how every service verifies tokens, so it must be
readable without one). Identity checks its own tokens with its local key ring, and also checks
that the user still exists and that the token's login was not revoked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response

from vareon_identity import google, service, verification
from vareon_identity.api.deps import Caller, CallerDep, client_of, passwords_of, settings_of
from vareon_identity.errors import GoogleSignInDisabled, RecentLoginRequired, RefreshTokenReused
from vareon_identity.mailer import MailSender
from vareon_identity.models import User
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
    VerifyEmailRequest,
)
from vareon_identity.throttle import ActionLimit, LoginThrottle
from vareon_identity.tokens import TokenIssuer

router = APIRouter(prefix="/api/v1/auth")


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
    user_agent, ip = client_of(request)
    email = service.normalise_email(email)  # the throttle's key is the account's
    attempt = throttle.attempt(email, ip)
    user = await service.authenticate(
        session, passwords_of(request), email=email, password=password
    )
    throttle.succeeded(attempt)
    ttl_s = settings_of(request).refresh_token_ttl_s
    issued = await service.start_session(session, user, ttl_s=ttl_s, user_agent=user_agent, ip=ip)
    return await _tokens_for(request, session, user, issued)


async def _send_verification(
    request: Request, session: AsyncSession, user: User, tasks: BackgroundTasks
) -> None:
    settings = settings_of(request)
    await verification.send_verification(
        session,
        user,
        ttl_s=settings.email_verification_ttl_s,
        public_base_url=settings.public_base_url,
    )
    mailer: MailSender = request.app.state.mail_sender
    tasks.add_task(mailer.wake)  # background tasks run after the commit


@router.post(
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
    register_limit.hit(client_of(request)[1] or "unknown")
    user = await service.register(
        session,
        passwords_of(request),
        email=body.email,
        password=body.password,
        display_name=body.display_name,
    )
    await _send_verification(request, session, user, tasks)
    return user


@router.post(
    "/verify-email",
    response_model=UserOut,
    responses={400: problem_response("Unknown, used or expired token")},
)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> User:
    """Redeem the token from the verification mail (single use; expires)."""
    return await verification.verify_email(session, body.token)


@router.post(
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
    per_ip.hit(client_of(request)[1] or "unknown")
    limit: ActionLimit = request.app.state.resend_limit
    limit.hit(str(caller.user.id))
    await _send_verification(request, session, caller.user, tasks)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
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
    user_agent, ip = client_of(request)
    ttl_s = settings_of(request).refresh_token_ttl_s
    issued = await service.start_session(session, user, ttl_s=ttl_s, user_agent=user_agent, ip=ip)
    return await _tokens_for(request, session, user, issued)


@router.post(
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


@router.post(
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


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={401: problem_response("Unknown, revoked or expired refresh token")},
)
async def refresh(body: RefreshRequest, request: Request, session: SessionDep) -> TokenResponse:
    user_agent, ip = client_of(request)
    try:
        user, issued = await service.rotate(
            session,
            body.refresh_token,
            user_agent=user_agent,
            ip=ip,
            ttl_s=settings_of(request).refresh_token_ttl_s,
            max_lifetime_s=settings_of(request).refresh_session_max_lifetime_s,
        )
    except RefreshTokenReused:
        await session.commit()  # the family's revocation must outlive this rejected request
        raise
    return await _tokens_for(request, session, user, issued)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, caller: CallerDep, session: SessionDep) -> Response:
    await service.logout(session, caller.user.id, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(caller: CallerDep, session: SessionDep) -> Response:
    await service.logout_all(session, caller.user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def me(caller: CallerDep) -> User:
    return caller.user


@router.patch("/me", response_model=UserOut)
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
    attempt = throttle.attempt(caller.user.email, client_of(request)[1])
    await service.check_password(passwords_of(request), caller.user, password)
    throttle.succeeded(attempt)


async def _recent_login(request: Request, caller: Caller, session: AsyncSession) -> None:
    max_age = timedelta(seconds=settings_of(request).reauthentication_max_age_s)
    started = (
        await service.login_started_at(session, caller.session_id) if caller.session_id else None
    )
    if started is None or datetime.now(UTC) - started > max_age:
        raise RecentLoginRequired("sign in again (at most a few minutes ago) to do this")


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
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


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, request: Request, caller: CallerDep, session: SessionDep
) -> Response:
    """Change the password; every other session is signed out, this one stays."""
    await _reauthenticate(request, caller, body.current_password)
    await service.change_password(
        session,
        passwords_of(request),
        caller.user,
        new=body.new_password,
        keep_family=caller.session_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/sessions", response_model=list[SessionOut])
async def sessions(caller: CallerDep, session: SessionDep) -> list[SessionOut]:
    rows = await service.active_sessions(session, caller.user.id)
    return [SessionOut(**row, current=row["id"] == caller.session_id) for row in rows]
