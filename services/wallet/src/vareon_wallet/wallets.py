"""A user's wallet from opening (with the signup bonus) to closing (holds released, the rest
moved to platform:closed-wallets).

Each use case takes the caller's AsyncSession and only flushes (the caller commits)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.wallet import (
    WalletClosedV1,
    WalletCreatedV1,
)

from vareon_wallet import ledger
from vareon_wallet.accounts import (
    Policy,
    balances_of,
    find_wallet,
    lock_accounts,
    platform_account,
    require_wallet,
    store_balances,
    utcnow,
)
from vareon_wallet.balance_events import announce_hold
from vareon_wallet.ledger import TransferKind
from vareon_wallet.models import OUTBOX, Account, Hold
from vareon_wallet.transfers import post_transfer


async def open_wallet(
    session: AsyncSession, policy: Policy, user_id: uuid.UUID
) -> tuple[Account, bool]:
    """Get or create the user's wallet; the signup bonus is posted once, whoever asks first."""
    created = await session.scalar(
        insert(Account)
        .values(id=uuid.uuid4(), kind="user", user_id=user_id)
        .on_conflict_do_nothing(index_elements=[Account.user_id])
        .returning(Account.id)
    )
    wallet = await require_wallet(session, user_id)
    if created is not None:
        await OUTBOX.publish(
            session,
            WalletCreatedV1(wallet_id=wallet.id, user_id=user_id, created_at=wallet.created_at),
        )
    if policy.signup_bonus > 0 and wallet.status == "open":
        source = await platform_account(session, ledger.SIGNUP_BONUS)
        await post_transfer(
            session,
            policy,
            debit=source.id,
            credit=wallet.id,
            amount=policy.signup_bonus,
            key=f"signup-bonus:{user_id}",
            kind=TransferKind.SIGNUP_BONUS,
            reason="signup bonus",
        )
    return wallet, created is not None


async def close_wallet(session: AsyncSession, policy: Policy, user_id: uuid.UUID) -> Account | None:
    """Release the holds, move what is left to platform:closed-wallets, close the wallet."""
    wallet = await find_wallet(session, user_id)
    if wallet is None or wallet.status == "closed":
        return None
    sink = await platform_account(session, ledger.CLOSED_WALLETS)
    wallet = (await lock_accounts(session, wallet.id, sink.id))[wallet.id]
    if wallet.status == "closed":
        return None
    now = utcnow()
    holds = await session.scalars(
        select(Hold).where(Hold.account_id == wallet.id, Hold.status == "pending").with_for_update()
    )
    for hold in holds:
        before = balances_of(wallet)
        store_balances(wallet, ledger.release(before, hold.amount))
        hold.status, hold.settled_at = "released", now
        await announce_hold(session, policy, wallet, before, hold, "hold-released", now)
    if wallet.balance != 0:
        debit, credit = (wallet.id, sink.id) if wallet.balance > 0 else (sink.id, wallet.id)
        await post_transfer(
            session,
            policy,
            debit=debit,
            credit=credit,
            amount=abs(wallet.balance),
            key=f"closure:{wallet.id}",
            kind=TransferKind.CLOSURE,
            reason="user deleted",
        )
    wallet.status, wallet.closed_at = "closed", now
    await session.flush()
    await OUTBOX.publish(
        session, WalletClosedV1(wallet_id=wallet.id, user_id=user_id, closed_at=now)
    )
    return wallet
