"""Events published by wallet (key: user id, so a user's wallet events stay in order)."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalog import EventPayload, register


@register
class WalletCreatedV1(EventPayload):
    event_type = "vareon.wallet.wallet.created.v1"
    topic = topics.WALLET_WALLET
    key_field = "user_id"

    wallet_id: UUID
    user_id: UUID
    created_at: datetime


@register
class BalanceChangedV1(EventPayload):
    """A wallet's balances after a transfer; amounts are integer micro-credits."""

    event_type = "vareon.wallet.balance.changed.v1"
    topic = topics.WALLET_BALANCE
    key_field = "user_id"

    wallet_id: UUID
    user_id: UUID
    balance: int
    change: int
    reason: str
    transfer_id: UUID
    changed_at: datetime
