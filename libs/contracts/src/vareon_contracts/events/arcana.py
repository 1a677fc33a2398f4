"""Events published by arcana (key: user id, so one user's usage stays in order)."""

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
