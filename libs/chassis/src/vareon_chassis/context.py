"""Per-request / per-event context that travels into logs and outgoing events."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
