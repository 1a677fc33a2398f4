"""HTTP models. Amounts go out twice: exact decimal credits and integer micro-credits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vareon_wallet.ledger import credits
from vareon_wallet.models import Account, Entry, Hold, Transfer

MAX_AMOUNT = 10**15  # a billion credits: far above any real amount, far below BIGINT
TOP_UP_DEFAULT = 100_000_000  # 100 credits
TOP_UP_MAX = 10_000_000_000  # 10,000 credits: a test balance, not a payroll


class WalletOut(BaseModel):
    wallet_id: uuid.UUID
    user_id: uuid.UUID
    status: str
    currency: Literal["credits"] = "credits"
    posted: str
    pending: str
    available: str
    posted_micro: int
    pending_micro: int
    available_micro: int
    created_at: datetime

    @classmethod
    def of(cls, a: Account) -> WalletOut:
        assert a.user_id is not None
        available = a.balance - a.pending
        return cls(
            wallet_id=a.id,
            user_id=a.user_id,
            status=a.status,
            posted=credits(a.balance),
            pending=credits(a.pending),
            available=credits(available),
            posted_micro=a.balance,
            pending_micro=a.pending,
            available_micro=available,
            created_at=a.created_at,
        )


class TransactionOut(BaseModel):
    id: str
    transfer_id: uuid.UUID
    kind: str
    amount: str
    amount_micro: int
    balance_after: str
    balance_after_micro: int
    reason: str
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, e: Entry, t: Transfer) -> TransactionOut:
        return cls(
            id=str(e.id),
            transfer_id=t.id,
            kind=t.kind,
            amount=credits(e.amount),
            amount_micro=e.amount,
            balance_after=credits(e.balance_after),
            balance_after_micro=e.balance_after,
            reason=t.reason,
            reference=t.reference,
            created_at=e.created_at,
        )


class TransactionPage(BaseModel):
    items: list[TransactionOut]
    next_cursor: str | None


class GrantIn(BaseModel):
    user_id: uuid.UUID
    amount_micro: int = Field(gt=0, le=MAX_AMOUNT)
    reason: str = Field(min_length=1, max_length=500)


class TopUpIn(BaseModel):
    """The quick action "top up my test wallet" (admins)."""

    model_config = ConfigDict(extra="forbid")
    amount_micro: int = Field(TOP_UP_DEFAULT, gt=0, le=TOP_UP_MAX)


class GrantOut(BaseModel):
    transfer_id: uuid.UUID
    wallet_id: uuid.UUID
    user_id: uuid.UUID
    amount: str
    amount_micro: int
    reason: str
    created_at: datetime


class HoldIn(BaseModel):
    amount_micro: int = Field(gt=0, le=MAX_AMOUNT)
    reason: str = Field(min_length=1, max_length=500)
    ttl_s: int | None = Field(default=None, gt=0, le=7 * 24 * 3600)


class CaptureIn(BaseModel):
    amount_micro: int | None = Field(default=None, gt=0, le=MAX_AMOUNT)
    """Defaults to the whole hold; the rest of the hold is released."""


class HoldOut(BaseModel):
    id: uuid.UUID
    wallet_id: uuid.UUID
    status: str
    amount: str
    amount_micro: int
    captured_micro: int
    reason: str
    transfer_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None

    @classmethod
    def of(cls, h: Hold) -> HoldOut:
        return cls(
            id=h.id,
            wallet_id=h.account_id,
            status=h.status,
            amount=credits(h.amount),
            amount_micro=h.amount,
            captured_micro=h.captured,
            reason=h.reason,
            transfer_id=h.transfer_id,
            created_at=h.created_at,
            expires_at=h.expires_at,
            settled_at=h.settled_at,
        )


class WalletSummary(BaseModel):
    """The wallet's section of the dashboard, in micro-credits. User scope: the caller's
    wallet (zeros before it exists); platform scope: every user wallet added up."""

    scope: Literal["user", "platform"]
    wallets: int
    balance: int
    available: int
    spent_this_month: int
    received_this_month: int
