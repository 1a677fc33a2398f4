"""Events published by identity on the user and session topics (key: user id)."""

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


@register
class UserVerifiedV1(EventPayload):
    event_type = "vareon.identity.user.verified.v1"
    topic = topics.IDENTITY_USER
    key_field = "user_id"

    user_id: UUID
    email: str
    verified_at: datetime


@register
class UserUpdatedV1(EventPayload):
    """The user's public profile after a change (full state, not a diff)."""

    event_type = "vareon.identity.user.updated.v1"
    topic = topics.IDENTITY_USER
    key_field = "user_id"

    user_id: UUID
    email: str
    display_name: str
    roles: list[str]
    updated_at: datetime


@register
class UserDeletedV1(EventPayload):
    """Only the id: every service erases or anonymises what it holds for this user."""

    event_type = "vareon.identity.user.deleted.v1"
    topic = topics.IDENTITY_USER
    key_field = "user_id"

    user_id: UUID
    deleted_at: datetime


@register
class SessionsRevokedV1(EventPayload):
    """Logins of a user ended before their access tokens expire (logout, logout-all, password
    change, role revocation, deletion). Every service keeps the session ids for one access
    token lifetime and refuses tokens whose `sid` is among them."""

    event_type = "vareon.identity.sessions.revoked.v1"
    topic = topics.IDENTITY_SESSION
    key_field = "user_id"

    user_id: UUID
    session_ids: list[UUID]
    """The `sid` claims (refresh token families) that are no longer valid."""
    reason: str
    revoked_at: datetime
