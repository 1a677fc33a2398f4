"""The routing-sample row is the sample event's fields: one column each, nothing else."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from vareon_chassis.routing_samples import RoutingSampleColumns, sample_values
from vareon_contracts.events.arcana import RoutingSampleRecordedV1


class Base(DeclarativeBase):
    metadata = MetaData()


class Sample(RoutingSampleColumns, Base):
    __tablename__ = "routing_samples"


def test_a_sample_event_fills_every_column_and_only_those():
    event = RoutingSampleRecordedV1(
        sample_id=uuid.uuid4(), user_id=uuid.uuid4(), recorded_at=datetime.now(UTC), length=5
    )
    values = sample_values(event)
    assert set(values) == set(Sample.__table__.columns.keys())
    assert values["id"] == event.sample_id
    row = Sample(**values)
    assert row.user_id == event.user_id and row.length == 5
