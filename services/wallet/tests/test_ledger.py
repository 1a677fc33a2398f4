"""Ledger rules (pure) and the rebuild/verify check against a real database."""

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_wallet import billing, holds, ledger, ledger_audit, wallets
from vareon_wallet.errors import DomainError
from vareon_wallet.ledger import Balances


def test_only_overdraft_goes_below_the_floor():
    b = Balances(balance=100)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.debit(b, 101)
    owed = ledger.debit(b, 150, overdraft=True)
    assert (owed.balance, owed.floor) == (-50, -50)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.debit(owed, 1)
    paid = ledger.credit(owed, 30)
    assert (paid.balance, paid.floor) == (-20, -20)
    assert ledger.credit(paid, 100).floor == 0


def test_capture_is_never_refused_even_after_overdraft():
    held = ledger.reserve(Balances(balance=10), 10)
    owed = ledger.debit(held, 20, overdraft=True)
    settled = ledger.capture(owed, 10, 10)
    assert (settled.balance, settled.pending) == (-20, 0)


def test_platform_accounts_have_no_floor():
    assert ledger.debit(Balances(0, platform=True), 5).balance == -5


def test_crossing_and_formatting():
    assert ledger.crossed_below(100, 100, 99)
    assert not ledger.crossed_below(100, 99, 50)
    assert ledger.credits(-1_500_001) == "-1.500001"


async def test_verify_catches_a_tampered_balance(sessionmaker, policy):
    async with sessionmaker.begin() as session:
        await wallets.open_wallet(session, policy, uuid.uuid4())
    async with sessionmaker() as session:
        assert (await ledger_audit.verify_ledger(session)).ok
    async with sessionmaker.begin() as session:
        await session.execute(
            text("UPDATE accounts SET balance = balance + 1 WHERE code = 'platform:grants'")
        )
    async with sessionmaker() as session:
        report = await ledger_audit.verify_ledger(session)
        assert not report.ok
        assert report.balance_mismatches == {"platform:grants": (1, 0)}


operations = st.lists(
    st.tuples(
        st.sampled_from(["grant", "usage", "hold", "capture", "close"]),
        st.integers(0, 2),
        st.integers(1, 30_000_000),
    ),
    min_size=1,
    max_size=12,
)


async def _apply(url: str, policy, users, ops) -> ledger_audit.LedgerReport:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    sm = create_sessionmaker(engine)
    try:
        for op, who, amount in ops:
            user = users[who]
            try:
                async with sm.begin() as s:
                    if op == "grant":
                        await billing.grant(
                            s,
                            policy,
                            admin_id=uuid.uuid4(),
                            user_id=user,
                            amount=amount,
                            reason="p",
                            idempotency_key=uuid.uuid4().hex,
                            request_hash="h",
                        )
                    elif op == "usage":
                        await billing.charge_usage(
                            s,
                            policy,
                            user_id=user,
                            cost=amount,
                            key=uuid.uuid4().hex,
                            reason="m",
                            reference=None,
                        )
                    elif op in ("hold", "capture"):
                        hold = await holds.place_hold(
                            s, policy, user_id=user, amount=amount, reason="h"
                        )
                        if op == "capture":
                            await holds.capture_hold(
                                s, policy, user_id=user, hold_id=hold.id, amount=amount // 2 + 1
                            )
                    else:
                        await wallets.close_wallet(s, policy, user)
            except DomainError:
                pass  # refused changes roll back whole
        async with sm() as s:
            return await ledger_audit.verify_ledger(s)
    finally:
        await engine.dispose()


@pytest.fixture
def users(database_url, policy):
    ids = [uuid.uuid4() for _ in range(3)]

    async def open_all():
        engine = create_engine(database_url, pool_size=1, max_overflow=0)
        try:
            async with create_sessionmaker(engine).begin() as s:
                for user in ids:
                    await wallets.open_wallet(s, policy, user)
        finally:
            await engine.dispose()

    asyncio.run(open_all())
    return ids


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_any_sequence_of_transfers_sums_to_zero(database_url, policy, users, ops):
    report = asyncio.run(_apply(database_url, policy, users, ops))
    assert report.ok, report
    assert report.total == 0
