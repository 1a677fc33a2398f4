"""Problems the wallet API reports (RFC 9457 through the chassis handlers)."""

from vareon_chassis.errors import PROBLEM_BASE, Conflict, DomainError, NotFound
from vareon_chassis.idempotency import IdempotencyKeyReused

__all__ = ["IdempotencyKeyReused"]  # the chassis's problem, raised by grants and top-ups


class WalletNotFound(NotFound):
    type = PROBLEM_BASE + "wallet-not-found"
    title = "Wallet not found"


class HoldNotFound(NotFound):
    type = PROBLEM_BASE + "hold-not-found"
    title = "Hold not found"


class InsufficientFundsProblem(DomainError):
    type = PROBLEM_BASE + "insufficient-funds"
    title = "Insufficient funds"
    status = 409


class WalletClosed(Conflict):
    type = PROBLEM_BASE + "wallet-closed"
    title = "Wallet closed"


class HoldNotPending(Conflict):
    type = PROBLEM_BASE + "hold-not-pending"
    title = "Hold is no longer pending"


class InvalidAmount(DomainError):
    type = PROBLEM_BASE + "invalid-amount"
    title = "Invalid amount"
    status = 422
