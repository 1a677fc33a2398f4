"""The contracts gate: committed schemas match the models, and stay backward compatible.

    python -m vareon_contracts.compat              # check (CI): exit 1 with one line a problem
    python -m vareon_contracts.compat --base REF   # also check against the schemas at git REF
    python -m vareon_contracts.compat --write      # `make schemas`: refuse a breaking change

Rules and how to evolve an event: docs/contracts.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vareon_contracts.catalogue import CATALOGUE, EventPayload
from vareon_contracts.compat_rules import Breach, compare
from vareon_contracts.schemas import SCHEMA_DIR, dumps, schema_for, snapshot_path, write_all

TYPE_NAME = re.compile(r"^vareon(\.[a-z][a-z0-9-]*){3}\.v[1-9][0-9]*$")
RETIRED = "retired"
"""Sub-directory holding the schemas of retired versions: their names are never reused."""

Catalogue = Mapping[str, type[EventPayload]]


def next_version(event_type: str) -> str:
    stem, _, number = event_type.rpartition(".v")
    return f"{stem}.v{int(number) + 1}" if number.isdigit() else f"{event_type}.v2"


def explain(event_type: str, breach: Breach) -> str:
    successor = next_version(event_type)
    advice = (
        f"add a default or publish {successor}"
        if breach.rule == "no-new-required-field"
        else f"publish {successor} alongside {event_type} instead"
    )
    return f"{event_type}: {breach.describe()} (rule: {breach.rule}); {advice}"


def compatibility(
    baseline: Mapping[str, dict[str, Any]],
    catalogue: Catalogue | None = None,
    retired: frozenset[str] = frozenset(),
) -> list[str]:
    """Problems of the models against ``baseline`` (event type -> published schema)."""
    catalogue = CATALOGUE if catalogue is None else catalogue
    problems = []
    for event_type, old in sorted(baseline.items()):
        model = catalogue.get(event_type)
        if model is None:
            if event_type not in retired:
                problems.append(
                    f"{event_type}: the committed schema has no model (rule: no-removed-version);"
                    f" keep the class registered, or retire the version as docs/contracts.md "
                    f"says (move its schema to schemas/{RETIRED}/)"
                )
            continue
        problems += [explain(event_type, b) for b in compare(old, schema_for(model))]
    return problems


def committed(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".json"): json.loads(p.read_text())
        for p in sorted(directory.glob("*.json"))
    }


def retired_types(directory: Path) -> frozenset[str]:
    return frozenset(p.name.removesuffix(".json") for p in (directory / RETIRED).glob("*.json"))


def check(directory: Path = SCHEMA_DIR, catalogue: Catalogue | None = None) -> list[str]:
    """Every problem of the models against the schemas committed in ``directory``."""
    catalogue = CATALOGUE if catalogue is None else catalogue
    retired = retired_types(directory)
    problems = compatibility(committed(directory), catalogue, retired)
    for event_type, model in sorted(catalogue.items()):
        path = snapshot_path(event_type, directory)
        if not TYPE_NAME.match(event_type):
            problems.append(
                f"{event_type}: the name is not vareon.<service>.<aggregate>.<verb>"
                ".v<N> (rule: type-name)"
            )
        if event_type in retired:
            problems.append(
                f"{event_type}: this version was retired and its name is never "
                f"reused (rule: no-reused-version); publish a new version"
            )
        if not path.exists():
            problems.append(
                f"{event_type}: no committed schema (rule: schema-committed); run "
                f"`make schemas` and commit {path.name}"
            )
        elif path.read_text() != dumps(schema_for(model)) and not any(
            p.startswith(f"{event_type}: ") for p in problems
        ):
            problems.append(
                f"{event_type}: the committed schema differs from the model "
                f"(rule: no-drift); run `make schemas` and commit {path.name}"
            )
    return problems


def committed_at(ref: str, directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """The schemas as committed at git ``ref`` (a CI gate against the target branch)."""

    def git(*args: str) -> str:
        command = ["git", *args]
        run = subprocess.run(command, cwd=directory, check=True, capture_output=True, text=True)  # noqa: S603
        return run.stdout

    prefix = git("rev-parse", "--show-prefix").strip()
    # --full-tree: from a sub-directory, ls-tree would otherwise filter by the cwd's path.
    names = git("ls-tree", "--full-tree", "--name-only", f"{ref}:{prefix}").split()
    return {
        n.removesuffix(".json"): json.loads(git("show", f"{ref}:{prefix}{n}"))
        for n in names
        if n.endswith(".json")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vareon_contracts.compat")
    parser.add_argument("--schemas", type=Path, default=SCHEMA_DIR)
    parser.add_argument("--base", help="git ref whose committed schemas must stay readable")
    parser.add_argument(
        "--write", action="store_true", help="write the schemas unless a change is incompatible"
    )
    args = parser.parse_args(argv)
    retired = retired_types(args.schemas)
    if args.write:
        problems = compatibility(committed(args.schemas), retired=retired)
    else:
        problems = check(args.schemas)
    if args.base:
        published = committed_at(args.base, args.schemas)
        print(f"contracts: comparing with {len(published)} schemas at {args.base}")
        problems += compatibility(published, retired=retired)
    for problem in dict.fromkeys(problems):
        print(problem, file=sys.stderr)
    if problems:
        return 1
    if args.write:
        for path in write_all(args.schemas):
            print(path)
    else:
        print(f"contracts: {len(CATALOGUE)} event versions, schemas committed and compatible")
    return 0


if __name__ == "__main__":
    sys.exit(main())
