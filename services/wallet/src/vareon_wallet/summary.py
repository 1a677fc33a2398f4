"""The wallet's section of the dashboard: credits available, spent and received this month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.auth import Principal
from vareon_chassis.errors import Forbidden

from vareon_wallet.models import Account, Entry
from vareon_wallet.schemas import WalletSummary

PLATFORM_READ = "system:read"
Scope = Literal["user", "platform"]


async def summary(db: AsyncSession, user: Principal, scope: Scope) -> WalletSummary:
    if scope == "platform" and not user.has(PLATFORM_READ):
        raise Forbidden(f"platform totals need {PLATFORM_READ}")
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    accounts = select(
        func.count(),
        func.coalesce(func.sum(Account.balance), 0),
        func.coalesce(func.sum(Account.balance - Account.pending), 0),
    ).where(Account.kind == "user", Account.status == "open")
    flows = (
        select(
            func.coalesce(func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)), 0),
            func.coalesce(func.sum(case((Entry.amount > 0, Entry.amount), else_=0)), 0),
        )
        .join(Account, Account.id == Entry.account_id)
        .where(Account.kind == "user", Entry.created_at >= start)
    )
    if scope == "user":
        accounts = accounts.where(Account.user_id == user.id)
        flows = flows.where(Account.user_id == user.id)
    wallets, balance, available = (await db.execute(accounts)).one()
    spent, received = (await db.execute(flows)).one()
    return WalletSummary(
        scope=scope,
        wallets=wallets,
        balance=int(balance),
        available=int(available),
        spent_this_month=int(spent),
        received_this_month=int(received),
    )
