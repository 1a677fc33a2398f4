"""What a wallet announces after each change: its balances (BalanceChanged, in lock order) and
the low-balance crossing."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.wallet import (
    BalanceChangedV1,
    LowBalanceCrossedV1,
)

from vareon_wallet import ledger
from vareon_wallet.accounts import (
    Policy,
    balances_of,
)
from vareon_wallet.models import OUTBOX, Account, Hold


async def announce(
    session: AsyncSession,
    policy: Policy,
    wallet: Account,
    before: ledger.Balances,
    *,
    change: int,
    reason: str,
    kind: str,
    cause: uuid.UUID,
    at: datetime,
    hold_id: uuid.UUID | None = None,
) -> None:
    """Publish the wallet's state after a change; the caller holds the account lock, so the
    sequence is the order in which changes were applied."""
    after = balances_of(wallet)
    assert wallet.user_id is not None
    wallet.seq += 1
    await OUTBOX.publish(
        session,
        BalanceChangedV1(
            wallet_id=wallet.id,
            user_id=wallet.user_id,
            balance=after.balance,
            change=change,
            reason=reason,
            transfer_id=cause,
            changed_at=at,
            pending=after.pending,
            available=after.available,
            kind=kind,
            seq=wallet.seq,
            arcana_usage_seq=wallet.arcana_usage_seq,
            hold_id=hold_id,
        ),
    )
    if ledger.crossed_below(policy.low_balance_threshold, before.available, after.available):
        await OUTBOX.publish(
            session,
            LowBalanceCrossedV1(
                wallet_id=wallet.id,
                user_id=wallet.user_id,
                available=after.available,
                threshold=policy.low_balance_threshold,
                transfer_id=cause,
                crossed_at=at,
            ),
        )


async def announce_hold(
    session: AsyncSession,
    policy: Policy,
    wallet: Account,
    before: ledger.Balances,
    hold: Hold,
    kind: str,
    at: datetime,
) -> None:
    await announce(
        session,
        policy,
        wallet,
        before,
        change=0,
        reason=hold.reason,
        kind=kind,
        cause=hold.id,
        at=at,
        hold_id=hold.id,
    )
