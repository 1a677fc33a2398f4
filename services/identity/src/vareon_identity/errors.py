"""Identity's problem types (RFC 9457), rendered by the chassis."""

from __future__ import annotations

from vareon_chassis.errors import (
    PROBLEM_BASE,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)


class EmailTaken(Conflict):
    type = PROBLEM_BASE + "email-taken"
    title = "Email already registered"


class WeakPassword(DomainError):
    type = PROBLEM_BASE + "weak-password"
    title = "Password too weak"
    status = 422


class InvalidCredentials(Unauthorized):
    type = PROBLEM_BASE + "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("invalid email or password")


class InvalidRefreshToken(Unauthorized):
    type = PROBLEM_BASE + "invalid-refresh-token"
    title = "Invalid refresh token"


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated token came back: its whole family is revoked, and that must be committed."""


class RecentLoginRequired(Unauthorized):
    type = PROBLEM_BASE + "recent-login-required"
    title = "Sign in again"


class UserNotFound(NotFound):
    type = PROBLEM_BASE + "user-not-found"
    title = "User not found"


class RoleNotFound(NotFound):
    type = PROBLEM_BASE + "role-not-found"
    title = "Role not found"


class TooManyAttempts(DomainError):
    type = PROBLEM_BASE + "too-many-attempts"
    title = "Too many attempts"
    status = 429

    def __init__(self, retry_after_s: int, what: str = "failed logins") -> None:
        super().__init__(
            f"too many {what}; retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


class SigningKeysMissing(RuntimeError):
    pass


class InvalidVerificationToken(DomainError):
    type = PROBLEM_BASE + "invalid-verification-token"
    title = "Invalid verification token"
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"verification token is {reason}", reason=reason)


class AlreadyVerified(Conflict):
    type = PROBLEM_BASE + "email-already-verified"
    title = "Email already verified"


class EmailNotVerified(Forbidden):
    type = PROBLEM_BASE + "email-not-verified"
    title = "Email not verified"


class GoogleSignInDisabled(NotFound):
    type = PROBLEM_BASE + "google-sign-in-disabled"
    title = "Google sign-in is not enabled"


class InvalidGoogleToken(Unauthorized):
    type = PROBLEM_BASE + "invalid-google-token"
    title = "Invalid Google ID token"


class GoogleKeysUnavailable(ServiceUnavailable):
    type = PROBLEM_BASE + "google-keys-unavailable"
    title = "Google signing keys unavailable"


class ApiKeyNotFound(NotFound):
    type = PROBLEM_BASE + "api-key-not-found"
    title = "API key not found"


class InvalidApiKeyLimits(DomainError):
    type = PROBLEM_BASE + "invalid-api-key-limits"
    title = "Invalid API key settings"
    status = 422
