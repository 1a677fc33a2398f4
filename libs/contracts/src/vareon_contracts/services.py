"""Who produces and who consumes each event type: declared once, here.

The AsyncAPI document, docs/events.md and the tests read this. A service publishes the events
of its own module under ``vareon_contracts.events`` (one producer per event type) and lists
the types it consumes explicitly. Adding a consumer means adding its type here.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from types import ModuleType

from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.events import arcana, cognisys, identity, myntrix, neosyntis, wallet


@dataclass(frozen=True)
class ServiceContract:
    publishes: AbstractSet[str] = frozenset()
    consumes: AbstractSet[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "publishes", frozenset(self.publishes))
        object.__setattr__(self, "consumes", frozenset(self.consumes))


def defined_in(module: ModuleType) -> frozenset[str]:
    """Every event type registered by ``module``."""
    return frozenset(t for t, m in CATALOGUE.items() if m.__module__ == module.__name__)


SERVICES: dict[str, ServiceContract] = {
    "gateway": ServiceContract(),
    "identity": ServiceContract(publishes=defined_in(identity)),
    "wallet": ServiceContract(
        publishes=defined_in(wallet),
        consumes={
            "vareon.identity.user.registered.v1",
            "vareon.identity.user.deleted.v1",
            "vareon.arcana.usage.recorded.v1",
            "vareon.neosyntis.training-job.usage-recorded.v1",
        },
    ),
    "arcana": ServiceContract(
        publishes=defined_in(arcana),
        consumes={
            "vareon.cognisys.routing-rule.changed.v1",
            "vareon.wallet.balance.changed.v1",
            "vareon.identity.user.deleted.v1",
            "vareon.identity.user.updated.v1",
            "vareon.identity.api-key.created.v1",
            "vareon.identity.api-key.renamed.v1",
            "vareon.identity.api-key.revoked.v1",
        },
    ),
    "cognisys": ServiceContract(
        publishes=defined_in(cognisys),
        consumes={
            "vareon.arcana.routing-sample.recorded.v1",
            "vareon.identity.user.deleted.v1",
        },
    ),
    "myntrix": ServiceContract(
        publishes=defined_in(myntrix),
        consumes={
            "vareon.neosyntis.model.version-registered.v1",
            "vareon.neosyntis.model.alias-moved.v1",
            "vareon.neosyntis.workflow-run.deployment-requested.v1",
            "vareon.identity.user.deleted.v1",
        },
    ),
    "neosyntis": ServiceContract(
        publishes=defined_in(neosyntis),
        consumes={
            "vareon.identity.user.deleted.v1",
            "vareon.wallet.balance.changed.v1",
            "vareon.neosyntis.training-job.completed.v1",
            "vareon.neosyntis.training-job.failed.v1",
            "vareon.neosyntis.training-job.cancelled.v1",
            "vareon.neosyntis.workflow-run.started.v1",
            "vareon.neosyntis.workflow-run.step-changed.v1",
            "vareon.myntrix.deployment.succeeded.v1",
            "vareon.myntrix.deployment.failed.v1",
            "vareon.myntrix.deployment.aborted.v1",
        },
    ),
}


def producer_of(event_type: str) -> str | None:
    return next((name for name, s in SERVICES.items() if event_type in s.publishes), None)


def consumers_of(event_type: str) -> list[str]:
    return sorted(name for name, s in SERVICES.items() if event_type in s.consumes)


def problems() -> list[str]:
    """Declarations that do not match the catalogue (checked by a test)."""
    found = []
    for name, service in sorted(SERVICES.items()):
        for kind, types in (("publishes", service.publishes), ("consumes", service.consumes)):
            found += [
                f"{name} {kind} {t!r}, which is not in CATALOGUE"
                for t in sorted(types - CATALOGUE.keys())
            ]
        found += [
            f"{name} publishes {t!r}, named after another service"
            for t in sorted(service.publishes)
            if t.split(".")[1:2] != [name]
        ]
    for event_type in sorted(CATALOGUE):
        producers = [n for n, s in SERVICES.items() if event_type in s.publishes]
        if len(producers) != 1:
            found.append(
                f"{event_type} must have exactly one producer in SERVICES, "
                f"has {producers or 'none'}"
            )
    return found
