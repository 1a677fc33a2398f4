"""Ledger rules in integer micro-credits: plain Python, no database, no web framework.

A wallet's *available* balance is ``balance - pending``. It never drops below the wallet's
``floor``. Ordinary debits and holds leave the floor where it is, so they are refused when
they would cross it; overdraft transfers (usage charges, which are never refused) lower the
floor to the new available balance; credits raise it back towards zero. Platform accounts
have no floor: they are the other side of every issued or earned credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

SIGNUP_BONUS = "platform:signup-bonus"
GRANTS = "platform:grants"
USAGE_REVENUE = "platform:usage-revenue"
CLOSED_WALLETS = "platform:closed-wallets"
PLATFORM_ACCOUNTS = (SIGNUP_BONUS, GRANTS, USAGE_REVENUE, CLOSED_WALLETS)
MICRO = 1_000_000


class TransferKind(StrEnum):
    SIGNUP_BONUS = "signup-bonus"
    GRANT = "grant"
    USAGE = "usage"
    HOLD_CAPTURE = "hold-capture"
    CLOSURE = "closure"


class LedgerError(ValueError):
    """A change the ledger refuses."""


class InsufficientFunds(LedgerError):
    def __init__(self, available: int, amount: int) -> None:
        super().__init__(f"available {available} micro-credits, {amount} needed")
        self.available = available
        self.amount = amount


@dataclass(frozen=True)
class Balances:
    balance: int
    pending: int = 0
    floor: int = 0
    platform: bool = False

    @property
    def available(self) -> int:
        return self.balance - self.pending


def _positive(amount: int) -> None:
    if amount <= 0:
        raise LedgerError(f"amount must be positive, got {amount}")


def _raise_floor(b: Balances) -> Balances:
    return b if b.platform else replace(b, floor=min(0, max(b.floor, b.available)))


def _within_floor(before: Balances, after: Balances, amount: int, overdraft: bool) -> Balances:
    if after.platform:
        return after
    if overdraft:
        return replace(after, floor=min(after.floor, after.available))
    if after.available < after.floor:
        raise InsufficientFunds(before.available - before.floor, amount)
    return after


def credit(b: Balances, amount: int) -> Balances:
    _positive(amount)
    return _raise_floor(replace(b, balance=b.balance + amount))


def debit(b: Balances, amount: int, *, overdraft: bool = False) -> Balances:
    _positive(amount)
    return _within_floor(b, replace(b, balance=b.balance - amount), amount, overdraft)


def reserve(b: Balances, amount: int) -> Balances:
    """Put a hold: the money stays posted but is no longer available."""
    _positive(amount)
    return _within_floor(b, replace(b, pending=b.pending + amount), amount, overdraft=False)


def release(b: Balances, held: int) -> Balances:
    _positive(held)
    if held > b.pending:
        raise LedgerError(f"cannot release {held}: only {b.pending} pending")
    return _raise_floor(replace(b, pending=b.pending - held))


def capture(b: Balances, held: int, amount: int) -> Balances:
    """Settle a hold of ``held``: ``amount`` (at most ``held``) is debited, the rest freed.

    Never refused: the money was already reserved, so available only grows.
    """
    _positive(amount)
    if amount > held or held > b.pending:
        raise LedgerError(f"cannot capture {amount} of a {held} hold ({b.pending} pending)")
    return _raise_floor(replace(b, balance=b.balance - amount, pending=b.pending - held))


def crossed_below(threshold: int, before: int, after: int) -> bool:
    return before >= threshold > after


def unbalanced(entries: Iterable[tuple[object, int]]) -> set[object]:
    """Transfer ids whose entries do not come as exactly one debit and one credit summing to 0."""
    sums: dict[object, list[int]] = {}
    for transfer_id, amount in entries:
        sums.setdefault(transfer_id, []).append(amount)
    return {
        t
        for t, amounts in sums.items()
        if len(amounts) != 2 or sum(amounts) != 0 or min(amounts) >= 0
    }


def credits(micro: int) -> str:
    """Micro-credits as an exact decimal string of credits."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"
