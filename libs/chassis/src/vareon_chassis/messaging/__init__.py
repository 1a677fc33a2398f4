"""Outbox, relay, inbox and consumers: at-least-once delivery, exactly-once effects."""

from vareon_chassis.messaging.consumer import EventConsumer, EventHandler
from vareon_chassis.messaging.outbox import Outbox, define_inbox, define_outbox

__all__ = ["EventConsumer", "EventHandler", "Outbox", "define_inbox", "define_outbox"]
