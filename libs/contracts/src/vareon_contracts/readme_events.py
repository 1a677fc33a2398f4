"""The "events in / out" table of each service README, generated from SERVICES.

It sits between two marker lines under the README's ``## Events`` heading (added at the end
when there is none); the prose around it, what each handler does, stays hand-written.
``python -m vareon_contracts.catalogue_doc`` rewrites it with docs/events.md.
"""

from __future__ import annotations

from pathlib import Path

from vareon_contracts.catalogue import CATALOGUE
from vareon_contracts.services import SERVICES, consumers_of, producer_of

ROOT = Path(__file__).resolve().parents[4]
BEGIN = (
    "<!-- events: generated from vareon_contracts.services.SERVICES by"
    " `python -m vareon_contracts.catalogue_doc`; do not edit -->"
)
END = "<!-- end of the generated events -->"
CATALOGUE_LINK = "../../docs/events.md#"


def readme_path(service: str, root: Path = ROOT) -> Path:
    return root / "services" / service / "README.md"


def _row(direction: str, event_type: str, peers: str) -> str:
    model = CATALOGUE[event_type]
    return (
        f"| {direction} | [`{event_type}`]({CATALOGUE_LINK}{event_type.replace('.', '')}) "
        f"| `{model.__name__}` | `{model.topic}` | {peers} |"
    )


def table(service: str) -> str:
    """The block for ``service``: every type it consumes (and from whom), then publishes."""
    contract = SERVICES[service]
    lines = [BEGIN, "", "| | event type | payload | topic | from / to |", "|---|---|---|---|---|"]
    lines += [_row("in", t, f"from {producer_of(t) or '—'}") for t in sorted(contract.consumes)]
    lines += [
        _row("out", t, f"to {', '.join(consumers_of(t))}" if consumers_of(t) else "—")
        for t in sorted(contract.publishes)
    ]
    if not contract.consumes and not contract.publishes:
        lines.append("| — | none | | | |")
    return "\n".join([*lines, "", END])


def with_table(text: str, service: str) -> str:
    """``text`` (a README) with its generated block replaced by the current one."""
    block = table(service)
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        return before + block + rest.split(END, 1)[1]
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("## Events"):
            return "".join([*lines[: i + 1], "\n", block, "\n", *lines[i + 1 :]])
    return text.rstrip("\n") + "\n\n## Events\n\n" + block + "\n"


def rendered(root: Path = ROOT) -> dict[Path, str]:
    """Each service README that exists, with its block up to date."""
    return {
        path: with_table(path.read_text(), service)
        for service in sorted(SERVICES)
        if (path := readme_path(service, root)).is_file()
    }
