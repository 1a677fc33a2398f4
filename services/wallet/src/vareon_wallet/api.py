"""Routes at the public paths (/api/v1/wallet...): the gateway forwards them unchanged."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from vareon_chassis.auth import CurrentUser, Principal, require_permission
from vareon_chassis.db import SessionDep
from vareon_chassis.errors import problem_response
from vareon_chassis.idempotency import REPLAYED_HEADER, RequiredIdempotencyKey, fingerprint
from vareon_chassis.pagination import Cursor, PageSize, decode_cursor, encode_cursor

from vareon_wallet import accounts, billing, holds, transfers, wallets
from vareon_wallet.ledger import TransferKind, credits
from vareon_wallet.schemas import (
    CaptureIn,
    GrantIn,
    GrantOut,
    HoldIn,
    HoldOut,
    TopUpIn,
    TransactionOut,
    TransactionPage,
    WalletOut,
    WalletSummary,
)
from vareon_wallet.summary import summary as summary_of
from vareon_wallet.transfers import Posted

GRANT_PERMISSION = "wallet:grant"
READ_ANY_PERMISSION = "wallet:read-any"
router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"])


def _policy(request: Request) -> accounts.Policy:
    return request.app.state.wallet_policy


@router.get("", responses={404: problem_response("The caller has no wallet yet")})
async def get_wallet(session: SessionDep, user: CurrentUser) -> WalletOut:
    return WalletOut.of(await accounts.require_wallet(session, user.id))


@router.post("", responses={201: {"model": WalletOut}})
async def open_wallet(
    request: Request, response: Response, session: SessionDep, user: CurrentUser
) -> WalletOut:
    """Get or create the caller's wallet: 201 when created, 200 when it already existed."""
    wallet, created = await wallets.open_wallet(session, _policy(request), user.id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return WalletOut.of(wallet)


@router.get("/transactions")
async def list_transactions(
    session: SessionDep,
    user: CurrentUser,
    limit: PageSize = 50,
    cursor: Cursor = None,
    kind: TransferKind | None = None,
    since: Annotated[datetime | None, Query(description="created at or after")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
) -> TransactionPage:
    wallet = await accounts.require_wallet(session, user.id)
    after = decode_cursor(cursor, int)
    rows = await transfers.list_transactions(
        session,
        wallet.id,
        limit=limit,
        before_entry=after[0] if after else None,
        kind=str(kind) if kind else None,
        since=since,
        until=until,
    )
    items = [TransactionOut.of(entry, transfer) for entry, transfer in rows[:limit]]
    more = len(rows) > limit
    return TransactionPage(
        items=items, next_cursor=encode_cursor(int(items[-1].id)) if more else None
    )


@router.post(
    "/credits",
    status_code=status.HTTP_201_CREATED,
    responses={
        404: problem_response("The user has no wallet"),
        409: problem_response("A closed wallet, or the Idempotency-Key reused for another grant"),
    },
)
async def grant_credits(
    request: Request,
    response: Response,
    session: SessionDep,
    body: Annotated[GrantIn, Body()],
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    admin: Principal = require_permission(GRANT_PERMISSION),
) -> GrantOut:
    """Credit a wallet from platform:grants. The key is scoped to the admin sending it:
    replaying it with the same body returns the original result; with another body
    (another user or amount) it is a 409."""
    fingerprint = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    posted = await billing.grant(
        session,
        _policy(request),
        admin_id=admin.id,
        user_id=body.user_id,
        amount=body.amount_micro,
        reason=body.reason,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    return _granted(response, posted, body.user_id)


@router.post(
    "/top-up",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: problem_response("A closed wallet, or the Idempotency-Key reused for another amount")
    },
)
async def top_up(
    request: Request,
    response: Response,
    session: SessionDep,
    idempotency_key: RequiredIdempotencyKey,
    body: Annotated[TopUpIn | None, Body()] = None,
    admin: Principal = require_permission(GRANT_PERMISSION),
) -> GrantOut:
    """The quick action "top up my test wallet" (admins, ``wallet:grant``): credit the
    caller's own wallet, opening it if need be, from platform:grants (default 100 credits).
    The key is the ledger transfer's: a retry with the same body replays the one credit."""
    body = body or TopUpIn()
    posted = await billing.top_up(
        session,
        _policy(request),
        admin_id=admin.id,
        amount=body.amount_micro,
        idempotency_key=idempotency_key,
        request_hash=fingerprint(body),
    )
    return _granted(response, posted, admin.id)


def _granted(response: Response, posted: Posted, user_id: uuid.UUID) -> GrantOut:
    if posted.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    t = posted.transfer
    return GrantOut(
        transfer_id=t.id,
        wallet_id=t.credit_account_id,
        user_id=user_id,
        amount=credits(t.amount),
        amount_micro=t.amount,
        reason=t.reason,
        created_at=t.created_at,
    )


@router.post(
    "/holds",
    status_code=status.HTTP_201_CREATED,
    responses={
        404: problem_response("The caller has no wallet"),
        409: problem_response("Insufficient funds, a closed wallet or a reused Idempotency-Key"),
    },
)
async def place_hold(
    request: Request, session: SessionDep, user: CurrentUser, body: HoldIn
) -> HoldOut:
    hold = await holds.place_hold(
        session,
        _policy(request),
        user_id=user.id,
        amount=body.amount_micro,
        reason=body.reason,
        ttl_s=body.ttl_s,
    )
    return HoldOut.of(hold)


@router.post(
    "/holds/{hold_id}/capture",
    responses={409: problem_response("The hold is no longer pending")},
)
async def capture_hold(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    hold_id: uuid.UUID,
    body: CaptureIn | None = None,
) -> HoldOut:
    hold = await holds.capture_hold(
        session,
        _policy(request),
        user_id=user.id,
        hold_id=hold_id,
        amount=body.amount_micro if body else None,
    )
    return HoldOut.of(hold)


@router.post(
    "/holds/{hold_id}/release",
    responses={409: problem_response("The hold is no longer pending")},
)
async def release_hold(
    request: Request, session: SessionDep, user: CurrentUser, hold_id: uuid.UUID
) -> HoldOut:
    released = await holds.release_hold(session, _policy(request), user_id=user.id, hold_id=hold_id)
    return HoldOut.of(released)


@router.get("/summary", response_model=WalletSummary, tags=["dashboard"])
async def summary(
    user: CurrentUser, db: SessionDep, scope: Literal["user", "platform"] = "user"
) -> WalletSummary:
    return await summary_of(db, user, scope)


@router.get("/{user_id}")
async def get_user_wallet(
    session: SessionDep,
    user_id: uuid.UUID,
    admin: Principal = require_permission(READ_ANY_PERMISSION),
) -> WalletOut:
    return WalletOut.of(await accounts.require_wallet(session, user_id))
