"""The fixture service as an app factory, for the replay and dead-letter command lines."""

from models import effects, inbox_table
from sqlalchemy import insert
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import ServiceSettings
from vareon_contracts.events.identity import UserUpdatedV1
from vareon_contracts.topics import IDENTITY_USER

users = EventConsumer(name="fixture.users", topics=(IDENTITY_USER,))


@users.on(UserUpdatedV1)
async def record(session, payload, envelope):
    await session.execute(insert(effects).values(event_id=envelope.id, note=payload.display_name))


def create_app():
    """Settings from ``VAREON_*`` variables (database, broker, consumer group prefix)."""
    settings = ServiceSettings(service_name="chassis-fixture")
    return create_service(
        settings, title="fixture", messaging=Messaging(inbox=inbox_table, consumers=[users])
    )
