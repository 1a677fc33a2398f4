"""Events published by identity on the user and session topics (key: user id)."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


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


@register
class ApiKeyCreatedV1(EventPayload):
    """A user's API key, in full (never the secret): what arcana needs to check it without a
    call to identity. ``key_hash`` is the hex SHA-256 of the whole key (``vk-...``)."""

    event_type = "vareon.identity.api-key.created.v1"
    topic = topics.IDENTITY_API_KEY
    key_field = "key_id"

    key_id: UUID
    user_id: UUID
    name: str
    prefix: str
    """The key's first characters, shown in lists so a user can tell keys apart."""
    key_hash: str
    scopes: list[str]
    expires_at: datetime | None = None
    budget_total: int | None = None
    """Micro-credits the key may spend in its lifetime (None: no limit)."""
    budget_period: str | None = None
    """``day`` or ``month`` (UTC): the window of ``budget_per_period``."""
    budget_per_period: int | None = None
    rpm_limit: int | None = None
    """Requests per minute (None: no limit beyond the platform's)."""
    owner_roles: list[str]
    """The owner's roles when the key was made (routing rules match on roles); later changes
    come with ``UserUpdatedV1``."""
    created_at: datetime


@register
class ApiKeyRenamedV1(EventPayload):
    event_type = "vareon.identity.api-key.renamed.v1"
    topic = topics.IDENTITY_API_KEY
    key_field = "key_id"

    key_id: UUID
    user_id: UUID
    name: str
    renamed_at: datetime


@register
class ApiKeyRevokedV1(EventPayload):
    """The key stops working (by its owner, an admin, or because the account was deleted)."""

    event_type = "vareon.identity.api-key.revoked.v1"
    topic = topics.IDENTITY_API_KEY
    key_field = "key_id"

    key_id: UUID
    user_id: UUID
    key_hash: str
    reason: str
    revoked_at: datetime
