"""Use cases: each takes the caller's AsyncSession and only flushes (the caller commits).

Account rows are always locked together, in id order (ORDER BY id FOR UPDATE), so that
concurrent transfers queue instead of deadlocking; holds are locked after their account.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ParamSpec

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_contracts.events.wallet import (
    BalanceChangedV1,
    LowBalanceCrossedV1,
    WalletClosedV1,
    WalletCreatedV1,
)

from vareon_wallet import ledger
from vareon_wallet.errors import (
    HoldNotFound,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFundsProblem,
    InvalidAmount,
    WalletClosed,
    WalletNotFound,
)
from vareon_wallet.ledger import TransferKind
from vareon_wallet.models import OUTBOX, Account, Entry, Hold, Transfer
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


@dataclass(frozen=True)
class Posted:
    transfer: Transfer
    replayed: bool


def _now() -> datetime:
    return datetime.now(UTC)


def balances_of(account: Account) -> ledger.Balances:
    return ledger.Balances(
        account.balance, account.pending, account.floor, platform=account.kind == "platform"
    )


def _store(account: Account, b: ledger.Balances) -> None:
    account.balance, account.pending, account.floor = b.balance, b.pending, b.floor


async def _lock(session: AsyncSession, *ids: uuid.UUID) -> dict[uuid.UUID, Account]:
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


async def _transfer_by_key(session: AsyncSession, key: str) -> Transfer | None:
    return await session.scalar(select(Transfer).where(Transfer.idempotency_key == key))


def _ledger_call(
    fn: Callable[P, ledger.Balances], *args: P.args, **kwargs: P.kwargs
) -> ledger.Balances:
    try:
        return fn(*args, **kwargs)
    except ledger.InsufficientFunds as exc:
        raise InsufficientFundsProblem(
            str(exc), available=exc.available, amount=exc.amount
        ) from exc
    except ledger.LedgerError as exc:
        raise InvalidAmount(str(exc)) from exc


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
    if (existing := await _transfer_by_key(session, key)) is not None:
        return Posted(existing, replayed=True)
    accounts = await _lock(session, debit, credit)
    # Whoever held the locks before us may have posted the same key meanwhile.
    if (existing := await _transfer_by_key(session, key)) is not None:
        return Posted(existing, replayed=True)
    source, target = accounts[debit], accounts[credit]
    for account in (source, target):
        if account.status != "open":
            raise WalletClosed(f"wallet {account.id} is closed")
    before = {source.id: balances_of(source), target.id: balances_of(target)}
    if debit_hold:
        source_after = _ledger_call(ledger.capture, before[source.id], debit_hold, amount)
    else:
        source_after = _ledger_call(ledger.debit, before[source.id], amount, overdraft=overdraft)
    target_after = _ledger_call(ledger.credit, before[target.id], amount)
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
    _store(source, source_after)
    _store(target, target_after)
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
            await _announce(
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


async def _announce(
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


async def _announce_hold(
    session: AsyncSession,
    policy: Policy,
    wallet: Account,
    before: ledger.Balances,
    hold: Hold,
    kind: str,
    at: datetime,
) -> None:
    await _announce(
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


async def grant(
    session: AsyncSession,
    policy: Policy,
    *,
    admin_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    idempotency_key: str,
    request_hash: str,
) -> Posted:
    """Admin credit: one transfer per (admin, idempotency key); a reused key must carry the
    same request. Concurrent uses of one key queue on the platform:grants row lock, and the
    re-check under it turns the loser into a replay (or a 409 when the request differs)."""
    key = f"grant:{admin_id}:{idempotency_key}"
    posted: Posted | None = None
    if (existing := await _transfer_by_key(session, key)) is not None:
        posted = Posted(existing, replayed=True)
    else:
        wallet = await require_wallet(session, user_id)
        source = await platform_account(session, ledger.GRANTS)
        posted = await post_transfer(
            session,
            policy,
            debit=source.id,
            credit=wallet.id,
            amount=amount,
            key=key,
            kind=TransferKind.GRANT,
            reason=reason,
            request_hash=request_hash,
        )
    if posted.transfer.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was already used with a different request")
    return posted


async def charge_usage(
    session: AsyncSession,
    policy: Policy,
    *,
    user_id: uuid.UUID,
    cost: int,
    key: str,
    reason: str,
    reference: str | None,
    arcana_usage_seq: int | None = None,
) -> Posted | None:
    """Charge a recorded use; never refused (the wallet may go negative). None: nothing to do."""
    if cost <= 0:
        return None
    wallet, _ = await open_wallet(session, policy, user_id)
    if wallet.status != "open":
        return None  # the user was deleted: there is no one left to bill
    revenue = await platform_account(session, ledger.USAGE_REVENUE)
    return await post_transfer(
        session,
        policy,
        debit=wallet.id,
        credit=revenue.id,
        amount=cost,
        key=key,
        kind=TransferKind.USAGE,
        reason=reason,
        reference=reference,
        overdraft=True,
        arcana_usage_seq=arcana_usage_seq,
    )


async def close_wallet(session: AsyncSession, policy: Policy, user_id: uuid.UUID) -> Account | None:
    """Release the holds, move what is left to platform:closed-wallets, close the wallet."""
    wallet = await find_wallet(session, user_id)
    if wallet is None or wallet.status == "closed":
        return None
    sink = await platform_account(session, ledger.CLOSED_WALLETS)
    wallet = (await _lock(session, wallet.id, sink.id))[wallet.id]
    if wallet.status == "closed":
        return None
    now = _now()
    holds = await session.scalars(
        select(Hold).where(Hold.account_id == wallet.id, Hold.status == "pending").with_for_update()
    )
    for hold in holds:
        before = balances_of(wallet)
        _store(wallet, ledger.release(before, hold.amount))
        hold.status, hold.settled_at = "released", now
        await _announce_hold(session, policy, wallet, before, hold, "hold-released", now)
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
    wallet = (await _lock(session, wallet.id))[wallet.id]
    if wallet.status != "open":
        raise WalletClosed("the wallet is closed")
    before = balances_of(wallet)
    _store(wallet, _ledger_call(ledger.reserve, before, amount))
    now = _now()
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
    await _announce_hold(session, policy, wallet, before, hold, "hold-placed", now)
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
    accounts = await _lock(session, found.account_id, *also)
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
    if hold.expires_at <= _now():
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
    hold.settled_at = _now()
    await session.flush()
    return hold


async def release_hold(
    session: AsyncSession, policy: Policy, *, user_id: uuid.UUID, hold_id: uuid.UUID
) -> Hold:
    hold, wallet = await _locked_hold(session, user_id, hold_id)
    before = balances_of(wallet)
    _store(wallet, _ledger_call(ledger.release, before, hold.amount))
    hold.status, hold.settled_at = "released", _now()
    await session.flush()
    await _announce_hold(session, policy, wallet, before, hold, "hold-released", hold.settled_at)
    return hold


async def expire_holds(
    session: AsyncSession, policy: Policy, *, now: datetime | None = None, limit: int = 200
) -> int:
    """Release pending holds past their expiry; returns how many expired."""
    now = now or _now()
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
    accounts = await _lock(session, *(row.account_id for row in due))
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
        _store(wallet, ledger.release(before, hold.amount))
        hold.status, hold.settled_at = "expired", now
        expired += 1
        await _announce_hold(session, policy, wallet, before, hold, "hold-expired", now)
    await session.flush()
    return expired


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
