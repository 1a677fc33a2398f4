"""A minimal service schema for the chassis's own tests: outbox, inbox and one effect table."""

from sqlalchemy import Column, Integer, Table, Text
from vareon_chassis.db import new_metadata
from vareon_chassis.messaging import define_inbox, define_outbox

metadata = new_metadata()
outbox_table = define_outbox(metadata)
inbox_table = define_inbox(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False),
    Column("note", Text, nullable=False),
)
