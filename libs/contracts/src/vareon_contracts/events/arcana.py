"""Events published by arcana: usage (key: user id, in order per user) and chat sessions."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


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


@register
class RoutingSampleRecordedV1(EventPayload):
    """One routed call's routing inputs and what it used (key: user id), for rule dry-runs.

    The message text is not carried: only which of the rules' keywords (``keyword_term``) and
    patterns (``pattern_term``, a digest) it contained when the call was routed, in ``terms``.
    """

    event_type = "vareon.arcana.routing-sample.recorded.v1"
    topic = topics.ARCANA_ROUTING_SAMPLE
    key_field = "user_id"

    sample_id: UUID
    user_id: UUID
    recorded_at: datetime
    """When the call was routed (rules' time windows read it)."""
    category: str | None = None
    roles: list[str] = []
    length: int
    """The routed message's length in characters."""
    terms: list[str] = []
    text_complete: bool = True
    """False when not every term could be checked in the routing budget."""
    rule_id: UUID | None = None
    """The rule that chose the targets (None: no rule matched)."""
    first_provider: str | None = None
    first_model: str | None = None
    """The target tried first."""
    provider: str | None = None
    model: str | None = None
    """The target that answered (None: none did)."""
    fell_back: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    cost: int = 0
