"""Transfers: moving an amount between two accounts once per idempotency key (double entry,
announced), and reading a wallet's entries.

Each use case takes the caller's AsyncSession and only flushes (the caller commits)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.metrics import after_commit

from vareon_wallet import ledger
from vareon_wallet.accounts import (
    Policy,
    balances_of,
    checked,
    lock_accounts,
    store_balances,
)
from vareon_wallet.balance_events import announce
from vareon_wallet.errors import (
    WalletClosed,
)
from vareon_wallet.ledger import TransferKind
from vareon_wallet.metrics import TRANSFERRED_MICRO, TRANSFERS
from vareon_wallet.models import Entry, Transfer


@dataclass(frozen=True)
class Posted:
    transfer: Transfer
    replayed: bool


async def transfer_by_key(session: AsyncSession, key: str) -> Transfer | None:
    return await session.scalar(select(Transfer).where(Transfer.idempotency_key == key))


async def post_transfer(
    session: AsyncSession,
    policy: Policy,
    *,
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount: int,
    key: str,
    kind: TransferKind,
    reason: str,
    reference: str | None = None,
    overdraft: bool = False,
    request_hash: str | None = None,
    debit_hold: int = 0,
    hold_id: uuid.UUID | None = None,
    arcana_usage_seq: int | None = None,
) -> Posted:
    """Move ``amount`` from ``debit`` to ``credit`` once per ``key``.

    ``debit_hold`` settles a hold of that size on the debit side in the same change.
    ``arcana_usage_seq``: this charges arcana usage of that sequence number (the marker).
    """
    if (existing := await transfer_by_key(session, key)) is not None:
        return Posted(existing, replayed=True)
    accounts = await lock_accounts(session, debit, credit)
    # Whoever held the locks before us may have posted the same key meanwhile.
    if (existing := await transfer_by_key(session, key)) is not None:
        return Posted(existing, replayed=True)
    source, target = accounts[debit], accounts[credit]
    for account in (source, target):
        if account.status != "open":
            raise WalletClosed(f"wallet {account.id} is closed")
    before = {source.id: balances_of(source), target.id: balances_of(target)}
    if debit_hold:
        source_after = checked(ledger.capture, before[source.id], debit_hold, amount)
    else:
        source_after = checked(ledger.debit, before[source.id], amount, overdraft=overdraft)
    target_after = checked(ledger.credit, before[target.id], amount)
    transfer = Transfer(
        id=uuid.uuid4(),
        debit_account_id=source.id,
        credit_account_id=target.id,
        amount=amount,
        idempotency_key=key,
        kind=str(kind),
        reason=reason,
        reference=reference,
        overdraft=overdraft,
        request_hash=request_hash,
    )
    session.add(transfer)
    await session.flush()
    after_commit(session, TRANSFERS.labels(str(kind)).inc)
    after_commit(session, lambda: TRANSFERRED_MICRO.labels(str(kind)).inc(amount))
    store_balances(source, source_after)
    store_balances(target, target_after)
    session.add_all(
        [
            Entry(
                transfer_id=transfer.id,
                account_id=source.id,
                amount=-amount,
                balance_after=source_after.balance,
            ),
            Entry(
                transfer_id=transfer.id,
                account_id=target.id,
                amount=amount,
                balance_after=target_after.balance,
            ),
        ]
    )
    await session.flush()
    if arcana_usage_seq is not None:
        source.arcana_usage_seq = max(source.arcana_usage_seq, arcana_usage_seq)
    for account, change in ((source, -amount), (target, amount)):
        if account.kind == "user":
            await announce(
                session,
                policy,
                account,
                before[account.id],
                change=change,
                reason=transfer.reason,
                kind=transfer.kind,
                cause=transfer.id,
                at=transfer.created_at,
                hold_id=hold_id,
            )
    return Posted(transfer, replayed=False)


async def list_transactions(
    session: AsyncSession,
    wallet_id: uuid.UUID,
    *,
    limit: int,
    before_entry: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[tuple[Entry, Transfer]]:
    """Newest first; ``limit + 1`` rows are read so the caller knows whether more remain."""
    query = (
        select(Entry, Transfer)
        .join(Transfer, Transfer.id == Entry.transfer_id)
        .where(Entry.account_id == wallet_id)
        .order_by(Entry.id.desc())
        .limit(limit + 1)
    )
    if before_entry is not None:
        query = query.where(Entry.id < before_entry)
    if kind is not None:
        query = query.where(Transfer.kind == kind)
    if since is not None:
        query = query.where(Entry.created_at >= since)
    if until is not None:
        query = query.where(Entry.created_at < until)
    return [(row.Entry, row.Transfer) for row in await session.execute(query)]
