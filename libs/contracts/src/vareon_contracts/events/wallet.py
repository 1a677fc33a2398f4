"""Events published by wallet (key: user id, so a user's wallet events stay in order)."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


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
    """A wallet's balances after a transfer or a hold change; amounts are integer micro-credits.

    ``seq`` orders a wallet's changes (assigned under the account lock); a replica keeps the
    highest. ``arcana_usage_seq`` is the causal marker for arcana's admission: every arcana
    usage of this user up to that sequence number is included in ``balance``.
    """

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
    pending: int = 0
    """Micro-credits reserved by open holds at the time of the change."""
    available: int | None = None
    """``balance - pending``: what the user can still spend (None from older producers)."""
    kind: str | None = None
    """The transfer's kind: signup-bonus, grant, usage, hold-capture, closure; or, for a
    change of ``pending`` alone, hold-placed, hold-released, hold-expired (``transfer_id``
    then carries the hold's id, ``change`` is 0)."""
    seq: int | None = None
    """Per-wallet sequence of balance changes, 1, 2, ... (None from older producers)."""
    arcana_usage_seq: int | None = None
    """Highest ``UsageRecordedV1.seq`` of this user the balance includes (None: older
    producer, unknown)."""
    hold_id: UUID | None = None
    """The hold placed, captured, released or expired by this change, if any."""


@register
class LowBalanceCrossedV1(EventPayload):
    """A change took the available balance from at/above the threshold to below it."""

    event_type = "vareon.wallet.balance.low-crossed.v1"
    topic = topics.WALLET_BALANCE
    key_field = "user_id"

    wallet_id: UUID
    user_id: UUID
    available: int
    threshold: int
    transfer_id: UUID
    crossed_at: datetime


@register
class WalletClosedV1(EventPayload):
    """The user was deleted; the remaining balance went back to a platform account."""

    event_type = "vareon.wallet.wallet.closed.v1"
    topic = topics.WALLET_WALLET
    key_field = "user_id"

    wallet_id: UUID
    user_id: UUID
    closed_at: datetime
