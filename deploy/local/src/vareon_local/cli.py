"""The `vareon` command line."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vareon_local.admin import seed_admin
from vareon_local.keys_cli import keys_app
from vareon_local.layout import find_repo_root
from vareon_local.mail_cli import mail_app
from vareon_local.state import AlreadyRunning, StateDir

app = typer.Typer(
    help="Run the Vareon platform locally (embedded PostgreSQL and broker).",
    no_args_is_help=True,
    add_completion=False,
)
events_app = typer.Typer(help="Look at events on the broker.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(mail_app, name="mail")
app.add_typer(keys_app, name="keys")
app.command("seed-admin")(seed_admin)
console = Console(width=None if sys.stdout.isatty() else 160)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, harmless

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where pgdata, logs, keys and the state file live [default: <repo>/.vareon]",
    ),
]


def _state(state_dir: Path | None) -> tuple[Path, StateDir]:
    root = find_repo_root()
    return root, StateDir(state_dir or root / ".vareon")


def _lock(state: StateDir, command: str) -> None:
    try:
        state.acquire(command)
    except AlreadyRunning as exc:
        console.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def up(
    state_dir: StateDirOption = None,
    port_offset: Annotated[
        int, typer.Option(help="Added to every service port (gateway 8000+N, identity 8101+N, ...)")
    ] = 0,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness")] = 120,
    fork: Annotated[
        bool,
        typer.Option(
            "--fork/--spawn",
            help="Fork services from the preloaded supervisor (fast), or spawn "
            "`python -m uvicorn` for each",
        ),
    ] = sys.platform == "linux",
) -> None:
    """Start PostgreSQL, the broker, migrations and every service; Ctrl-C stops it all."""
    from vareon_local.supervisor import Options, Supervisor

    root, state = _state(state_dir)
    _lock(state, "up")
    try:
        options = Options(
            root,
            state,
            port_offset=port_offset,
            database_url=os.environ.get("VAREON_DATABASE_URL") or None,
            kafka_bootstrap=os.environ.get("VAREON_KAFKA_BOOTSTRAP") or None,
            ready_timeout_s=ready_timeout,
            fork=fork,
        )
        code = Supervisor(options, console).run()
    finally:
        state.release()
    raise typer.Exit(code)


@app.command("migrate")
def migrate_command(
    service: Annotated[str | None, typer.Option(help="Only this service")] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Run every service's `alembic upgrade head` (embedded PostgreSQL started around it)."""
    from vareon_local.infra import Databases
    from vareon_local.supervisor import StartupFailed, migrate_all, runnable_services

    root, state = _state(state_dir)
    services, _ = runnable_services(root, 0, console)
    services = [s for s in services if s.database and (service is None or s.name == service)]
    if service and not services:
        console.print(f"[red]no service {service!r} with migrations[/]")
        raise typer.Exit(2)
    _lock(state, "migrate")
    databases = Databases(state.pgdata, os.environ.get("VAREON_DATABASE_URL") or None)
    try:
        databases.start()
        databases.ensure([s.database for s in services if s.database])
        migrate_all(services, databases, console)
    except StartupFailed as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        databases.stop()
        state.release()
    console.print(f"[green]migrated[/] {', '.join(s.name for s in services) or 'nothing'}")


@app.command()
def doctor(
    state_dir: StateDirOption = None,
    port_offset: Annotated[int, typer.Option()] = 0,
    providers: Annotated[
        bool, typer.Option("--providers", help="Check arcana's model providers instead")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="With --providers: also a 1-token call each")
    ] = False,
    arcana_database_url: Annotated[
        str | None,
        typer.Option(help="With --providers: where the routing rules are [default: vareon up's]"),
    ] = None,
) -> None:
    """Check this machine can run the platform (--providers: that the model providers answer)."""
    from vareon_local.doctor import print_checks, run_checks

    root, state = _state(state_dir)
    if providers:
        from vareon_local.doctor_providers import run_provider_checks

        running = (state.read() or {}).get("services", {}).get("arcana") or {}
        url = arcana_database_url or running.get("database_url")
        checks = run_provider_checks(url, live=live)
    else:
        checks = run_checks(root, state, port_offset)
    if not print_checks(console, checks):
        raise typer.Exit(1)


@events_app.command("tail")
def events_tail(
    topic: str,
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Kafka bootstrap [default: the running `vareon up`, or VAREON_KAFKA_BOOTSTRAP]"
        ),
    ] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Print the CloudEvents arriving on TOPIC (one JSON object per line)."""
    import asyncio

    from vareon_local.events import tail

    _, state = _state(state_dir)
    running = state.read() or {}
    bootstrap = (
        bootstrap
        or os.environ.get("VAREON_KAFKA_BOOTSTRAP")
        or running.get("broker", {}).get("bootstrap")
    )
    if not bootstrap:
        console.print("[red]no broker:[/] start `vareon up` or pass --bootstrap")
        raise typer.Exit(1)
    try:
        asyncio.run(tail(bootstrap, topic, from_beginning=from_beginning))
    except KeyboardInterrupt:
        pass


_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("replay", context_settings=_PASSTHROUGH, add_help_option=False)
def replay_command(ctx: typer.Context, state_dir: StateDirOption = None) -> None:
    """Rebuild a read model, reset a group by time, republish (dry run unless --execute).

    `vareon replay rebuild|reset-offsets|republish --help` for the options.
    """
    from vareon_local.replay_cli import run

    _, state = _state(state_dir)
    raise typer.Exit(run("replay", ctx.args or ["--help"], state.read()))


@app.command("dlq", context_settings=_PASSTHROUGH, add_help_option=False)
def dlq_command(ctx: typer.Context, state_dir: StateDirOption = None) -> None:
    """Dead letters: list, show, redrive, purge (dry run unless --execute).

    `vareon dlq list|show|redrive|purge --help` for the options.
    """
    from vareon_local.replay_cli import run

    _, state = _state(state_dir)
    raise typer.Exit(run("dlq", ctx.args or ["--help"], state.read()))


if __name__ == "__main__":
    app()
