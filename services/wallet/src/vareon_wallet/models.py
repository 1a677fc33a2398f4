"""Tables: accounts (wallets and platform accounts), transfers, entries, holds, outbox, inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from vareon_chassis.tables import service_tables

TABLES = service_tables("wallet", inbox=True)
metadata, OUTBOX, inbox_table = TABLES.metadata, TABLES.outbox, TABLES.inbox
outbox_table = OUTBOX.table


class Base(DeclarativeBase):
    metadata = metadata
    # Server defaults come back with RETURNING: no lazy load after a flush in async code.
    __mapper_args__ = {"eager_defaults": True}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Account(Base):
    """A user's wallet or a platform account. ``balance`` is posted, ``pending`` held.

    A user wallet's available balance (balance - pending) never goes below ``floor``; only
    usage charges may lower the floor (see the README: negative balances).
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'user' AND user_id IS NOT NULL AND code IS NULL)"
            " OR (kind = 'platform' AND code IS NOT NULL AND user_id IS NULL)",
            name="kind_owner",
        ),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("floor <= 0", name="floor_not_positive"),
        CheckConstraint(
            "kind = 'platform' OR balance - pending >= floor", name="available_above_floor"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    code: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    pending: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    floor: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    """The last BalanceChangedV1.seq announced (bumped under the account lock)."""
    arcana_usage_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    """The highest arcana usage sequence charged: the causal marker arcana admits by."""
    created_at: Mapped[datetime] = _now()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Transfer(Base):
    """Money moving from one account to another; exactly two entries, summing to zero."""

    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    debit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    credit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    reference: Mapped[str | None] = mapped_column(Text)
    overdraft: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    request_hash: Mapped[str | None] = mapped_column(Text)
    """Fingerprint of the HTTP request that asked for it (admin grants)."""
    created_at: Mapped[datetime] = _now()


class Entry(Base):
    """One side of a transfer on one account: signed amount and the balance it left."""

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        UniqueConstraint("transfer_id", "account_id"),
        Index("ix_entries_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"), nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = _now()


class Hold(Base):
    """Money reserved on a wallet (pending) until it is captured, released or expires."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("captured >= 0 AND captured <= amount", name="captured_within_amount"),
        CheckConstraint("status IN ('pending', 'captured', 'released', 'expired')", name="status"),
        Index(
            "ix_holds_pending_expires_at", "expires_at", postgresql_where=text("status = 'pending'")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id"), nullable=False, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    captured: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("transfers.id"))
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
