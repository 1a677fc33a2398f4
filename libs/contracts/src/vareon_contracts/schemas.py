"""JSON Schema snapshots of every event payload, committed under libs/contracts/schemas/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vareon_contracts.catalogue import CATALOGUE, EventPayload

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_for(model: type[EventPayload]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"https://schemas.vareon.dev/events/{model.event_type}.json"
    schema["x-topic"] = model.topic
    schema["x-key"] = model.key_field
    return schema


def schema_of(event_type: str) -> dict[str, Any]:
    return schema_for(CATALOGUE[event_type])


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render(event_type: str) -> str:
    return dumps(schema_of(event_type))


def snapshot_path(event_type: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{event_type}.json"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in sorted(CATALOGUE):
        path = snapshot_path(event_type, directory)
        path.write_text(render(event_type))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path)
