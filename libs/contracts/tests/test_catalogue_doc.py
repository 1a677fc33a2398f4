from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.catalogue_doc import DOC_PATH, main, render


def test_docs_events_md_is_up_to_date():
    assert DOC_PATH.exists() and DOC_PATH.read_text() == render(), (
        "docs/events.md is stale: run `python -m vareon_contracts.catalogue_doc` (make schemas)"
    )


def test_catalogue_lists_every_event_with_producer_and_schema_link(tmp_path):
    out = tmp_path / "events.md"
    assert main([str(out)]) == 0
    text = out.read_text()
    for event_type in CATALOGUE:
        assert f"## {event_type}" in text
        assert f"(../libs/contracts/schemas/{event_type}.json)" in text
    registered = next(
        line
        for line in text.splitlines()
        if line.startswith("| [`vareon.identity.user.registered.v1`]")
    )
    assert "| `vareon.identity.user` | `user_id` | identity | wallet |" in registered
