"""Holds: reserving part of a balance, then capturing, releasing or expiring it.

Each use case takes the caller's AsyncSession and only flushes (the caller commits)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_wallet import ledger
from vareon_wallet.accounts import (
    Policy,
    balances_of,
    checked,
    lock_accounts,
    platform_account,
    require_wallet,
    store_balances,
    utcnow,
)
from vareon_wallet.balance_events import announce_hold
from vareon_wallet.errors import (
    HoldNotFound,
    HoldNotPending,
    WalletClosed,
)
from vareon_wallet.ledger import TransferKind
from vareon_wallet.models import Account, Hold
from vareon_wallet.transfers import post_transfer


async def place_hold(
    session: AsyncSession,
    policy: Policy,
    *,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    ttl_s: int | None = None,
) -> Hold:
    wallet = await require_wallet(session, user_id)
    wallet = (await lock_accounts(session, wallet.id))[wallet.id]
    if wallet.status != "open":
        raise WalletClosed("the wallet is closed")
    before = balances_of(wallet)
    store_balances(wallet, checked(ledger.reserve, before, amount))
    now = utcnow()
    hold = Hold(
        id=uuid.uuid4(),
        account_id=wallet.id,
        amount=amount,
        captured=0,
        status="pending",
        reason=reason,
        expires_at=now + timedelta(seconds=ttl_s or policy.hold_ttl_s),
    )
    session.add(hold)
    await session.flush()
    await announce_hold(session, policy, wallet, before, hold, "hold-placed", now)
    return hold


async def _locked_hold(
    session: AsyncSession, user_id: uuid.UUID, hold_id: uuid.UUID, *also: uuid.UUID
) -> tuple[Hold, Account]:
    """The user's hold, locked after its account (and ``also``) in the fixed order."""
    found = (
        await session.execute(
            select(Hold.account_id)
            .join(Account, Account.id == Hold.account_id)
            .where(Hold.id == hold_id, Account.user_id == user_id)
        )
    ).first()
    if found is None:
        raise HoldNotFound(f"no hold {hold_id} on your wallet")
    accounts = await lock_accounts(session, found.account_id, *also)
    hold = await session.scalar(
        select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert hold is not None
    if hold.status != "pending":
        raise HoldNotPending(f"hold {hold_id} is {hold.status}", hold_status=hold.status)
    return hold, accounts[found.account_id]


async def capture_hold(
    session: AsyncSession,
    policy: Policy,
    *,
    user_id: uuid.UUID,
    hold_id: uuid.UUID,
    amount: int | None = None,
) -> Hold:
    revenue = await platform_account(session, ledger.USAGE_REVENUE)
    hold, _ = await _locked_hold(session, user_id, hold_id, revenue.id)
    if hold.expires_at <= utcnow():
        raise HoldNotPending(f"hold {hold_id} expired", hold_status="expired")
    amount = hold.amount if amount is None else amount
    posted = await post_transfer(
        session,
        policy,
        debit=hold.account_id,
        credit=revenue.id,
        amount=amount,
        key=f"hold-capture:{hold.id}",
        kind=TransferKind.HOLD_CAPTURE,
        reason=hold.reason,
        reference=str(hold.id),
        debit_hold=hold.amount,
        hold_id=hold.id,
    )
    hold.status, hold.captured, hold.transfer_id = "captured", amount, posted.transfer.id
    hold.settled_at = utcnow()
    await session.flush()
    return hold


async def release_hold(
    session: AsyncSession, policy: Policy, *, user_id: uuid.UUID, hold_id: uuid.UUID
) -> Hold:
    hold, wallet = await _locked_hold(session, user_id, hold_id)
    before = balances_of(wallet)
    store_balances(wallet, checked(ledger.release, before, hold.amount))
    hold.status, hold.settled_at = "released", utcnow()
    await session.flush()
    await announce_hold(session, policy, wallet, before, hold, "hold-released", hold.settled_at)
    return hold


async def expire_holds(
    session: AsyncSession, policy: Policy, *, now: datetime | None = None, limit: int = 200
) -> int:
    """Release pending holds past their expiry; returns how many expired."""
    now = now or utcnow()
    due = (
        await session.execute(
            select(Hold.id, Hold.account_id)
            .where(Hold.status == "pending", Hold.expires_at <= now)
            .order_by(Hold.expires_at)
            .limit(limit)
        )
    ).all()
    if not due:
        return 0
    accounts = await lock_accounts(session, *(row.account_id for row in due))
    holds = await session.scalars(
        select(Hold)
        .where(Hold.id.in_([row.id for row in due]), Hold.status == "pending")
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    expired = 0
    for hold in holds:
        wallet = accounts[hold.account_id]
        before = balances_of(wallet)
        store_balances(wallet, ledger.release(before, hold.amount))
        hold.status, hold.settled_at = "expired", now
        expired += 1
        await announce_hold(session, policy, wallet, before, hold, "hold-expired", now)
    await session.flush()
    return expired
