"""The service's metadata, ORM base, outbox and inbox (domain tables live in subpackages)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase
from vareon_chassis.db import new_metadata
from vareon_chassis.messaging import Outbox, define_inbox, define_outbox

metadata = new_metadata()
OUTBOX = Outbox(define_outbox(metadata), source="vareon-neosyntis")
inbox_table = define_inbox(metadata)


class Base(DeclarativeBase):
    metadata = metadata
