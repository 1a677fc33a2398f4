import pytest
from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.schemas import render, snapshot_path


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_committed_schema_matches_model(event_type):
    path = snapshot_path(event_type)
    assert path.exists(), f"no committed schema for {event_type}: run `make schemas`"
    assert path.read_text() == render(event_type), (
        f"{event_type}: the model and its committed schema differ; run `make schemas` "
        "(and bump the version if the change is not backward compatible)"
    )
