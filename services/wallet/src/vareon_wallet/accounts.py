"""Accounts: the wallet policy, finding and locking accounts, and applying ledger arithmetic to
them.

Account rows are always locked together, in id order (ORDER BY id FOR UPDATE), so that
concurrent transfers queue instead of deadlocking; holds are locked after their account.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ParamSpec

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vareon_wallet import ledger
from vareon_wallet.errors import (
    InsufficientFundsProblem,
    InvalidAmount,
    WalletNotFound,
)
from vareon_wallet.models import Account
from vareon_wallet.settings import WalletSettings

P = ParamSpec("P")


@dataclass(frozen=True)
class Policy:
    signup_bonus: int
    low_balance_threshold: int
    hold_ttl_s: int

    @classmethod
    def from_settings(cls, settings: WalletSettings) -> Policy:
        return cls(
            settings.initial_wallet_balance, settings.low_balance_threshold, settings.hold_ttl_s
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


def balances_of(account: Account) -> ledger.Balances:
    return ledger.Balances(
        account.balance, account.pending, account.floor, platform=account.kind == "platform"
    )


def store_balances(account: Account, b: ledger.Balances) -> None:
    account.balance, account.pending, account.floor = b.balance, b.pending, b.floor


async def lock_accounts(session: AsyncSession, *ids: uuid.UUID) -> dict[uuid.UUID, Account]:
    rows = await session.scalars(
        select(Account)
        .where(Account.id.in_(set(ids)))
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {a.id: a for a in rows}


async def platform_account(session: AsyncSession, code: str) -> Account:
    account = await session.scalar(select(Account).where(Account.code == code))
    if account is None:
        raise RuntimeError(f"platform account {code} missing: run the migrations")
    return account


async def find_wallet(session: AsyncSession, user_id: uuid.UUID) -> Account | None:
    return await session.scalar(
        select(Account).where(Account.user_id == user_id).execution_options(populate_existing=True)
    )


async def require_wallet(session: AsyncSession, user_id: uuid.UUID) -> Account:
    wallet = await find_wallet(session, user_id)
    if wallet is None:
        raise WalletNotFound(f"no wallet for user {user_id}")
    return wallet


def checked(fn: Callable[P, ledger.Balances], *args: P.args, **kwargs: P.kwargs) -> ledger.Balances:
    """One step of ledger arithmetic, its refusals raised as the wallet's problems."""
    try:
        return fn(*args, **kwargs)
    except ledger.InsufficientFunds as exc:
        raise InsufficientFundsProblem(
            str(exc), available=exc.available, amount=exc.amount
        ) from exc
    except ledger.LedgerError as exc:
        raise InvalidAmount(str(exc)) from exc
