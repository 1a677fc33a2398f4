"""Recomputing every balance from the entries (and pending from open holds) to prove the ledger
balances."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_wallet import ledger
from vareon_wallet.models import Account, Entry, Hold, Transfer


@dataclass
class LedgerReport:
    accounts: int = 0
    total: int = 0
    balance_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    pending_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    unbalanced_transfers: set[object] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return (
            self.total == 0
            and not self.balance_mismatches
            and not self.pending_mismatches
            and not self.unbalanced_transfers
        )


async def verify_ledger(session: AsyncSession) -> LedgerReport:
    """Recompute every balance from the entries (and pending from open holds) and compare."""
    report = LedgerReport()
    from_entries = dict(
        (
            await session.execute(
                select(Entry.account_id, func.sum(Entry.amount)).group_by(Entry.account_id)
            )
        ).all()
    )
    held = dict(
        (
            await session.execute(
                select(Hold.account_id, func.sum(Hold.amount))
                .where(Hold.status == "pending")
                .group_by(Hold.account_id)
            )
        ).all()
    )
    for account in await session.scalars(select(Account)):
        report.accounts += 1
        report.total += account.balance
        name = account.code or str(account.user_id)
        if (recomputed := int(from_entries.get(account.id) or 0)) != account.balance:
            report.balance_mismatches[name] = (account.balance, recomputed)
        if (pending := int(held.get(account.id) or 0)) != account.pending:
            report.pending_mismatches[name] = (account.pending, pending)
    report.unbalanced_transfers = ledger.unbalanced(
        (await session.execute(select(Entry.transfer_id, Entry.amount))).all()
    )
    orphans = await session.scalars(
        select(Transfer.id).where(
            ~select(Entry.id).where(Entry.transfer_id == Transfer.id).exists()
        )
    )
    report.unbalanced_transfers |= set(orphans)
    return report
