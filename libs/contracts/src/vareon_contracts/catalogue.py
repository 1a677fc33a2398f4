"""Every event type, every version: the payload models and where they travel."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """Base of every event payload.

    Payloads are read tolerantly (unknown fields are ignored) so that a consumer of
    version N still reads messages written by a newer producer of the same version.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]
    """Name of the field whose value is the Kafka key (the aggregate id)."""

    def partition_key(self) -> str:
        return str(getattr(self, self.key_field))


CATALOGUE: dict[str, type[EventPayload]] = {}


def register(model: type[EventPayload]) -> type[EventPayload]:
    if model.event_type in CATALOGUE:
        raise ValueError(f"event type registered twice: {model.event_type}")
    CATALOGUE[model.event_type] = model
    return model


def payload_model(event_type: str) -> type[EventPayload] | None:
    return CATALOGUE.get(event_type)


def _load() -> None:
    # Importing every module of the events package fills CATALOGUE through @register, so a
    # producer's new module needs no edit here.
    import importlib
    import pkgutil

    from vareon_contracts import events

    for module in sorted(m.name for m in pkgutil.iter_modules(events.__path__)):
        importlib.import_module(f"{events.__name__}.{module}")


_load()
