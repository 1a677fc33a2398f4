"""service_tables: the metadata, outbox and inbox every service's models.py starts with."""

from __future__ import annotations

import pytest
from vareon_chassis.db import NAMING_CONVENTION
from vareon_chassis.tables import event_source, service_tables


def test_a_consumer_gets_outbox_inbox_and_its_event_source() -> None:
    tables = service_tables("wallet", inbox=True)
    assert tables.outbox.source == event_source("wallet") == "vareon-wallet"
    assert set(tables.metadata.tables) == {"outbox", "inbox"}
    assert tables.inbox is tables.metadata.tables["inbox"]
    assert tables.metadata.naming_convention == NAMING_CONVENTION


def test_a_service_that_consumes_nothing_has_no_inbox() -> None:
    tables = service_tables("identity", inbox=False)
    assert set(tables.metadata.tables) == {"outbox"}
    assert tables.consumer_inbox is None
    with pytest.raises(LookupError, match="identity consumes no events"):
        _ = tables.inbox


def test_unknown_service_names_are_refused() -> None:
    with pytest.raises(KeyError, match="walet"):
        service_tables("walet", inbox=True)
