"""Each service README's events section follows SERVICES (as docs/events.md does)."""

import re

import pytest
from vareon_contracts import readme_events
from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.catalogue_doc import DOC_PATH
from vareon_contracts.services import SERVICES

ROOT = DOC_PATH.parents[1]


def events_section(service: str) -> str:
    """The README's text from its first ``## Events`` heading to the next ``## `` heading."""
    text = (ROOT / "services" / service / "README.md").read_text()
    found = re.search(r"^## Events.*?(?=^## (?!Events)|\Z)", text, flags=re.M | re.S)
    return found.group(0) if found else ""


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_readme_names_every_event_the_service_consumes_and_publishes(service):
    section = events_section(service)
    declared = SERVICES[service].consumes | SERVICES[service].publishes
    missing = sorted(
        t for t in declared if t not in section and CATALOGUE[t].__name__ not in section
    )
    assert not missing, f"services/{service}/README.md's events section omits {missing}"


def test_the_generated_events_tables_are_up_to_date():
    stale = [str(p) for p, text in readme_events.rendered().items() if p.read_text() != text]
    assert not stale, f"stale: {stale}; run `python -m vareon_contracts.catalogue_doc`"


def test_a_readme_without_a_table_gets_one_under_its_events_heading():
    text = "# wallet\n\n## Events\n\nprose\n\n## Tests\n"
    first = readme_events.with_table(text, "wallet")
    assert first.index("## Events") < first.index(readme_events.BEGIN) < first.index("prose")
    assert "`TrainingUsageRecordedV1`" in first
    assert readme_events.with_table(first, "wallet") == first
    assert readme_events.BEGIN in readme_events.with_table("# gateway\n", "gateway")
