"""Events published by arcana: usage (key: user id, in order per user) and chat sessions."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalog import EventPayload, register


@register
class UsageRecordedV1(EventPayload):
    """One billable use of an AI model; ``cost`` is in integer micro-credits.

    The envelope id is the charge's idempotency key: the wallet charges each event once.
    """

    event_type = "vareon.arcana.usage.recorded.v1"
    topic = topics.ARCANA_USAGE
    key_field = "user_id"

    usage_id: UUID
    user_id: UUID
    session_id: UUID | None = None
    request_id: str | None = None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: int
    recorded_at: datetime
    seq: int | None = None
    """The user's arcana usage sequence number (1, 2, ... in commit order); the wallet
    reports the highest it applied as ``BalanceChangedV1.arcana_usage_seq``."""


@register
class ChatSessionCreatedV1(EventPayload):
    """A user opened a chat session (key: session id)."""

    event_type = "vareon.arcana.session.created.v1"
    topic = topics.ARCANA_SESSION
    key_field = "session_id"

    session_id: UUID
    user_id: UUID
    category: str
    created_at: datetime


@register
class ChatSessionDeletedV1(EventPayload):
    """A chat session and its messages were erased (by its owner or with the user)."""

    event_type = "vareon.arcana.session.deleted.v1"
    topic = topics.ARCANA_SESSION
    key_field = "session_id"

    session_id: UUID
    user_id: UUID
    deleted_at: datetime
