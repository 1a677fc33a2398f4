"""Arcana's problem types (RFC 9457), rendered by the chassis."""

from __future__ import annotations

from vareon_chassis.errors import (
    PROBLEM_BASE,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)


class SessionNotFound(NotFound):
    type = PROBLEM_BASE + "chat-session-not-found"
    title = "Chat session not found"


class InsufficientCredits(DomainError):
    type = PROBLEM_BASE + "insufficient-credits"
    title = "Insufficient credits"
    status = 402


class EmailNotVerified(DomainError):
    """Paid models need a verified email address (identity's `email_verified` claim)."""

    type = PROBLEM_BASE + "email-not-verified"
    title = "Email address not verified"
    status = 403


class ModelsUnavailable(ServiceUnavailable):
    type = PROBLEM_BASE + "models-unavailable"
    title = "No model could answer"


class TooManyRequests(DomainError):
    type = PROBLEM_BASE + "too-many-requests"
    title = "Too many requests"
    status = 429

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"rate limit reached; retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


class InvalidModelAnswer(DomainError):
    """The model's answers (first try and one retry) were not the JSON that was asked for."""

    type = PROBLEM_BASE + "invalid-model-answer"
    title = "The model gave no valid answer"
    status = 502


class PersonaNotFound(NotFound):
    type = PROBLEM_BASE + "persona-not-found"
    title = "Persona not found"


class PersonaSlugTaken(Conflict):
    type = PROBLEM_BASE + "persona-slug-taken"
    title = "Persona slug taken"


class SharingForbidden(Forbidden):
    type = PROBLEM_BASE + "persona-sharing-forbidden"
    title = "Sharing personas needs a permission"


class MessageNotFound(NotFound):
    type = PROBLEM_BASE + "message-not-found"
    title = "Message not found"


class IdempotencyKeyReused(Conflict):
    type = PROBLEM_BASE + "idempotency-key-reused"
    title = "Idempotency key already used for another request"


class InvalidTranscript(DomainError):
    """An imported transcript whose messages do not form a tree in order."""

    type = PROBLEM_BASE + "invalid-transcript"
    title = "Invalid transcript"
    status = 422


class ReplyStreamExpired(DomainError):
    """A reconnect to a reply that stopped because nobody watched it for the grace period."""

    type = PROBLEM_BASE + "reply-stream-expired"
    title = "The reply's stream has expired"
    status = 410


class ScenarioNotFound(NotFound):
    type = PROBLEM_BASE + "scenario-not-found"
    title = "Scenario not found"


class ScenarioRunNotFound(NotFound):
    type = PROBLEM_BASE + "scenario-run-not-found"
    title = "Scenario run not found"


class ScenarioRunFinished(Conflict):
    type = PROBLEM_BASE + "scenario-run-finished"
    title = "The scenario run has already finished"


class ScenarioRunsBusy(Conflict):
    """The user already has as many runs queued or running as one may."""

    type = PROBLEM_BASE + "scenario-runs-busy"
    title = "Too many scenario runs in progress"
