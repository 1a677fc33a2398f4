"""What can go wrong between the gateway and a service, as problem types."""

from __future__ import annotations

from vareon_chassis.errors import PROBLEM_BASE, DomainError


class UpstreamUnavailable(DomainError):
    type = PROBLEM_BASE + "upstream-unavailable"
    title = "Service unavailable"
    status = 503


class UpstreamTimeout(DomainError):
    type = PROBLEM_BASE + "upstream-timeout"
    title = "Service timed out"
    status = 504


class BadGateway(DomainError):
    type = PROBLEM_BASE + "bad-gateway"
    title = "Bad gateway"
    status = 502


class ClientClosedRequest(DomainError):
    type = PROBLEM_BASE + "client-closed-request"
    title = "Client closed the request"
    status = 400


class PayloadTooLarge(DomainError):
    type = PROBLEM_BASE + "payload-too-large"
    title = "Payload too large"
    status = 413


class DeviceCredentialRequired(DomainError):
    type = PROBLEM_BASE + "unauthorized"
    title = "Unauthorized"
    status = 401
