import pytest
from vareon_contracts import services
from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.services import SERVICES, ServiceContract, consumers_of, producer_of


def test_every_declaration_matches_the_catalogue():
    assert services.problems() == []


def test_a_declared_type_missing_from_the_catalogue_fails(monkeypatch):
    monkeypatch.setitem(SERVICES, "ghost", ServiceContract(consumes={"vareon.ghost.thing.seen.v1"}))
    assert services.problems() == [
        "ghost consumes 'vareon.ghost.thing.seen.v1', which is not in CATALOGUE"
    ]


def test_an_event_without_a_producer_fails(monkeypatch):
    monkeypatch.setitem(SERVICES, "identity", ServiceContract())
    assert (
        "vareon.identity.user.registered.v1 must have exactly one producer in SERVICES, "
        "has none" in services.problems()
    )


@pytest.mark.parametrize(
    ("event_type", "producer", "consumers"),
    [
        ("vareon.identity.user.registered.v1", "identity", ["wallet"]),
        ("vareon.identity.user.deleted.v1", "identity", ["wallet"]),
        ("vareon.arcana.usage.recorded.v1", "arcana", ["wallet"]),
        ("vareon.wallet.balance.changed.v1", "wallet", []),
    ],
)
def test_the_platform_map(event_type, producer, consumers):
    assert event_type in CATALOGUE
    assert producer_of(event_type) == producer
    assert set(consumers) <= set(consumers_of(event_type))


def test_wallet_publishes_every_event_of_its_module():
    assert {t for t in CATALOGUE if t.startswith("vareon.wallet.")} == SERVICES["wallet"].publishes
    assert SERVICES["gateway"] == ServiceContract()
