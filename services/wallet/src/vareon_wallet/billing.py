"""What users are credited and charged: admin grants and test top-ups (idempotent per admin and
key) and recorded usage (never refused).

Each use case takes the caller's AsyncSession and only flushes (the caller commits)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vareon_wallet import ledger
from vareon_wallet.accounts import (
    Policy,
    platform_account,
    require_wallet,
)
from vareon_wallet.errors import (
    IdempotencyKeyReused,
)
from vareon_wallet.ledger import TransferKind
from vareon_wallet.transfers import Posted, post_transfer, transfer_by_key
from vareon_wallet.wallets import open_wallet

TOP_UP_REASON = "test top-up"


async def grant(
    session: AsyncSession,
    policy: Policy,
    *,
    admin_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    idempotency_key: str,
    request_hash: str,
) -> Posted:
    """Admin credit: one transfer per (admin, idempotency key); a reused key must carry the
    same request."""
    return await _grant_once(
        session,
        policy,
        key=f"grant:{admin_id}:{idempotency_key}",
        user_id=user_id,
        open_if_missing=False,
        amount=amount,
        reason=reason,
        request_hash=request_hash,
    )


async def top_up(
    session: AsyncSession,
    policy: Policy,
    *,
    admin_id: uuid.UUID,
    amount: int,
    idempotency_key: str,
    request_hash: str,
) -> Posted:
    """The quick action "top up my test wallet": an admin credits their own wallet (opened
    if they had none) from platform:grants, once per key, as a grant the ledger records."""
    return await _grant_once(
        session,
        policy,
        key=f"top-up:{admin_id}:{idempotency_key}",
        user_id=admin_id,
        open_if_missing=True,
        amount=amount,
        reason=TOP_UP_REASON,
        request_hash=request_hash,
    )


async def _grant_once(
    session: AsyncSession,
    policy: Policy,
    *,
    key: str,
    user_id: uuid.UUID,
    open_if_missing: bool,
    amount: int,
    reason: str,
    request_hash: str,
) -> Posted:
    """The transfer key is the idempotency record: concurrent uses of one key queue on the
    platform:grants row lock, and the re-check under it turns the loser into a replay (or a
    409 when the request differs)."""
    posted: Posted | None = None
    if (existing := await transfer_by_key(session, key)) is not None:
        posted = Posted(existing, replayed=True)
    else:
        if open_if_missing:
            wallet, _ = await open_wallet(session, policy, user_id)
        else:
            wallet = await require_wallet(session, user_id)
        source = await platform_account(session, ledger.GRANTS)
        posted = await post_transfer(
            session,
            policy,
            debit=source.id,
            credit=wallet.id,
            amount=amount,
            key=key,
            kind=TransferKind.GRANT,
            reason=reason,
            request_hash=request_hash,
        )
    if posted.transfer.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    return posted


async def charge_usage(
    session: AsyncSession,
    policy: Policy,
    *,
    user_id: uuid.UUID,
    cost: int,
    key: str,
    reason: str,
    reference: str | None,
    arcana_usage_seq: int | None = None,
) -> Posted | None:
    """Charge a recorded use; never refused (the wallet may go negative). None: nothing to do."""
    if cost <= 0:
        return None
    wallet, _ = await open_wallet(session, policy, user_id)
    if wallet.status != "open":
        return None  # the user was deleted: there is no one left to bill
    revenue = await platform_account(session, ledger.USAGE_REVENUE)
    return await post_transfer(
        session,
        policy,
        debit=wallet.id,
        credit=revenue.id,
        amount=cost,
        key=key,
        kind=TransferKind.USAGE,
        reason=reason,
        reference=reference,
        overdraft=True,
        arcana_usage_seq=arcana_usage_seq,
    )
