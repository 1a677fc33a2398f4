"""Concurrent writers against one wallet, each in its own session and transaction."""

import asyncio
import uuid

from sqlalchemy import select, text
from vareon_wallet import accounts, billing, holds, ledger, ledger_audit, transfers, wallets
from vareon_wallet.errors import InsufficientFundsProblem
from vareon_wallet.ledger import TransferKind

from .conftest import BONUS


async def _open(sessionmaker, policy, user):
    async with sessionmaker.begin() as session:
        wallet, _ = await wallets.open_wallet(session, policy, user)
        revenue = await accounts.platform_account(session, ledger.USAGE_REVENUE)
        return wallet.id, revenue.id


async def test_200_concurrent_debits_end_at_the_exact_balance(sessionmaker, policy):
    wallet_id, revenue_id = await _open(sessionmaker, policy, uuid.uuid4())
    amount = BONUS // 100  # 200 debits ask for twice what the wallet holds

    async def debit(i: int) -> bool:
        try:
            async with sessionmaker.begin() as session:
                await transfers.post_transfer(
                    session,
                    policy,
                    debit=wallet_id,
                    credit=revenue_id,
                    amount=amount,
                    key=f"debit-{i}",
                    kind=TransferKind.USAGE,
                    reason="test",
                )
            return True
        except InsufficientFundsProblem:
            return False

    outcomes = await asyncio.gather(*(debit(i) for i in range(200)))
    assert sum(outcomes) == 100
    async with sessionmaker() as session:
        balance = await session.scalar(
            text("SELECT balance FROM accounts WHERE id = :id"), {"id": wallet_id}
        )
        assert balance == 0
        assert (await ledger_audit.verify_ledger(session)).ok


async def test_concurrent_usage_charges_are_never_refused(sessionmaker, policy):
    user = uuid.uuid4()
    await _open(sessionmaker, policy, user)

    async def charge(i: int) -> None:
        async with sessionmaker.begin() as session:
            await billing.charge_usage(
                session,
                policy,
                user_id=user,
                cost=BONUS // 40,
                key=f"usage-{i}",
                reason="m",
                reference=None,
            )

    await asyncio.gather(*(charge(i) for i in range(60)))
    async with sessionmaker() as session:
        wallet = await accounts.require_wallet(session, user)
        assert wallet.balance == BONUS - 60 * (BONUS // 40)
        assert wallet.floor == wallet.balance  # only usage may take a wallet below zero
        assert (await ledger_audit.verify_ledger(session)).ok


async def test_concurrent_holds_cannot_overspend(sessionmaker, policy):
    user = uuid.uuid4()
    await _open(sessionmaker, policy, user)

    async def hold() -> bool:
        try:
            async with sessionmaker.begin() as session:
                await holds.place_hold(
                    session, policy, user_id=user, amount=BONUS // 10, reason="chat"
                )
            return True
        except InsufficientFundsProblem:
            return False

    outcomes = await asyncio.gather(*(hold() for _ in range(30)))
    assert sum(outcomes) == 10
    async with sessionmaker() as session:
        wallet = await accounts.require_wallet(session, user)
        assert (wallet.balance, wallet.pending) == (BONUS, BONUS)
        assert (await ledger_audit.verify_ledger(session)).ok


async def test_expired_holds_are_swept(sessionmaker, policy):
    user = uuid.uuid4()
    await _open(sessionmaker, policy, user)
    async with sessionmaker.begin() as session:
        hold = await holds.place_hold(session, policy, user_id=user, amount=5, reason="x", ttl_s=1)
    async with sessionmaker.begin() as session:
        await session.execute(text("UPDATE holds SET expires_at = now() - interval '1 second'"))
    async with sessionmaker.begin() as session:
        assert await holds.expire_holds(session, policy) == 1
    async with sessionmaker() as session:
        from vareon_wallet.models import Hold

        assert await session.scalar(select(Hold.status).where(Hold.id == hold.id)) == "expired"
        assert (await accounts.require_wallet(session, user)).pending == 0
