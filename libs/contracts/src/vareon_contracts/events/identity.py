"""Events published by identity on the user topic (key: user id)."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalog import EventPayload, register


@register
class UserRegisteredV1(EventPayload):
    event_type = "vareon.identity.user.registered.v1"
    topic = topics.IDENTITY_USER
    key_field = "user_id"

    user_id: UUID
    email: str
    display_name: str
    registered_at: datetime
