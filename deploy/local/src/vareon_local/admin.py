"""`vareon seed-admin`: the first admin, written into identity's database.

Identity's own bootstrap code does the work (same password hashing, same outbox events); this
only finds the database: --database-url, else the running `vareon up`'s state file, else the
embedded PostgreSQL of the state dir (started for the moment, like `vareon migrate`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vareon_local.layout import find_repo_root
from vareon_local.state import AlreadyRunning, StateDir

console = Console()
IDENTITY_DATABASE = "vareon_identity"


def seed_admin(
    email: Annotated[str, typer.Option("--email", help="The admin's email address")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="For a new account [default: a random one, printed once]"),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Identity's database [default: found]")
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="[default: <repo>/.vareon]")
    ] = None,
) -> None:
    """Create the first admin (or promote an existing account to admin)."""
    if importlib.util.find_spec("vareon_identity") is None:
        console.print("[red]vareon_identity is not installed[/] (run `uv sync --all-packages`)")
        raise typer.Exit(1)
    state = StateDir(state_dir or find_repo_root() / ".vareon")
    url = database_url or ((state.read() or {}).get("services", {}).get("identity") or {}).get(
        "database_url"
    )
    if url:
        _seed(url, email, password)
        return
    from vareon_local.infra import Databases

    try:
        state.acquire("seed-admin")
    except AlreadyRunning as exc:
        console.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(1) from None
    databases = Databases(state.pgdata, os.environ.get("VAREON_DATABASE_URL") or None)
    try:
        databases.start()
        _seed(databases.url(IDENTITY_DATABASE), email, password)
    finally:
        databases.stop()
        state.release()


def _seed(url: str, email: str, password: str | None) -> None:
    from vareon_chassis.errors import DomainError
    from vareon_identity.bootstrap import PasswordRequired, seed_admin_at

    generated = None
    try:
        try:
            seeded = asyncio.run(seed_admin_at(url, email=email, password=password))
        except PasswordRequired:
            generated = secrets.token_urlsafe(18)
            seeded = asyncio.run(seed_admin_at(url, email=email, password=generated))
    except DomainError as exc:
        console.print(f"[red]refused:[/] {exc.detail}")
        raise typer.Exit(1) from None
    except Exception as exc:  # a wrong URL, a database not migrated: say what, not a traceback
        console.print(f"[red]failed:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    verb = "created" if seeded.created else "promoted"
    console.print(f"[green]{verb}[/] admin {seeded.email} ({seeded.user_id})")
    if generated:
        console.print(f"password (shown once): {generated}")
