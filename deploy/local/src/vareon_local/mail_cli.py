"""`vareon mail list|show N`: the mails the local SMTP catcher received."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vareon_local.layout import find_repo_root
from vareon_local.mail import list_mails, render

mail_app = typer.Typer(
    help="Mails caught by `vareon up`'s local SMTP server.", no_args_is_help=True
)
console = Console()

StateDirOption = Annotated[
    Path | None, typer.Option("--state-dir", help="[default: <repo>/.vareon]")
]


def mail_dir(state_dir: Path | None) -> Path:
    return (state_dir or find_repo_root() / ".vareon") / "mail"


@mail_app.command("list")
def mail_list(state_dir: StateDirOption = None) -> None:
    """Every caught mail, oldest first."""
    mails = list_mails(mail_dir(state_dir))
    if not mails:
        console.print("no mail yet")
        return
    table = Table()
    for column in ("#", "date", "to", "subject"):
        table.add_column(column)
    for mail in mails:
        table.add_row(str(mail.number), mail.date, mail.to, mail.subject)
    console.print(table)


@mail_app.command("show")
def mail_show(number: int, state_dir: StateDirOption = None) -> None:
    """Print mail NUMBER (headers and text)."""
    found = [m for m in list_mails(mail_dir(state_dir)) if m.number == number]
    if not found:
        console.print(f"[red]no mail #{number}[/] (see `vareon mail list`)")
        raise typer.Exit(1)
    print(render(found[0].path))
