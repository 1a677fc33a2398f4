"""`vareon keys rotate|list`: identity's signing keys in the state dir.

Rotation adds a key whose file name sorts last, so it signs from identity's next token on;
identity re-reads the directory when it changes and keeps publishing every key in its JWKS,
so tokens signed by the older key stay valid. Delete an old file once the longest access-token
lifetime has passed since the rotation.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from vareon_local.layout import find_repo_root

keys_app = typer.Typer(help="Identity's token signing keys.", no_args_is_help=True)
console = Console()

StateDirOption = Annotated[
    Path | None, typer.Option("--state-dir", help="[default: <repo>/.vareon]")
]


def keys_dir(state_dir: Path | None) -> Path:
    return (state_dir or find_repo_root() / ".vareon") / "keys"


def add_signing_key(directory: Path) -> Path:
    """A new Ed25519 key (mode 0600) named to sort after every other: it becomes active."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    newest = max((p.name for p in directory.glob("*.pem")), default="")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = stamp + ".pem"
    if name <= newest:  # a clock set back must not make the new key sort before the old
        name = newest.removesuffix(".pem") + "-" + stamp + ".pem"
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return path


@keys_app.command("rotate")
def rotate(state_dir: StateDirOption = None) -> None:
    """Add a signing key; it signs new tokens, the older ones stay published (and valid)."""
    directory = keys_dir(state_dir)
    path = add_signing_key(directory)
    others = sorted(p.name for p in directory.glob("*.pem") if p != path)
    console.print(f"new signing key: {path}")
    if others:
        console.print(
            f"still published: {', '.join(others)} (delete them after the access-token lifetime)"
        )


@keys_app.command("list")
def list_keys(state_dir: StateDirOption = None) -> None:
    """Key files, oldest first; the last one signs."""
    paths = sorted(keys_dir(state_dir).glob("*.pem"))
    if not paths:
        console.print("no signing key yet (`vareon up` makes one)")
    for i, path in enumerate(paths):
        console.print(f"{path.name}{'  (active)' if i == len(paths) - 1 else ''}")
