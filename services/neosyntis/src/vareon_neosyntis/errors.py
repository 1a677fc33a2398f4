"""Neosyntis problem types (RFC 9457) beyond the chassis's generic ones."""

from __future__ import annotations

from vareon_chassis.errors import PROBLEM_BASE, Conflict, DomainError


class PayloadTooLarge(DomainError):
    type = PROBLEM_BASE + "payload-too-large"
    title = "Payload too large"
    status = 413


class MalformedDataset(DomainError):
    """The uploaded file is not what its format says; ``line``/``column`` say where."""

    type = PROBLEM_BASE + "malformed-dataset"
    title = "Malformed dataset"
    status = 422


class DatasetQuotaExceeded(DomainError):
    type = PROBLEM_BASE + "dataset-quota-exceeded"
    title = "Dataset quota exceeded"
    status = 403


class UnsupportedFormat(DomainError):
    type = PROBLEM_BASE + "unsupported-dataset-format"
    title = "Unsupported dataset format"
    status = 415


class LabOperationsBusy(DomainError):
    type = PROBLEM_BASE + "lab-operations-busy"
    title = "Too many open-lab operations running"
    status = 429


class InsufficientCredits(DomainError):
    """The same problem type as arcana's: the user's credits do not cover the budget."""

    type = PROBLEM_BASE + "insufficient-credits"
    title = "Insufficient credits"
    status = 402


class InvalidRequest(DomainError):
    type = PROBLEM_BASE + "invalid-request"
    title = "Invalid request"
    status = 422


class DatasetInUse(Conflict):
    type = PROBLEM_BASE + "dataset-in-use"
    title = "Dataset in use"


class ImmutableModelVersion(DomainError):
    type = PROBLEM_BASE + "model-version-immutable"
    title = "Model versions are immutable"
    status = 405
