"""The local SMTP catcher: `vareon up` runs it on loopback so identity's mails land in
`.vareon/mail/NNNN.eml` instead of the internet; `vareon mail list|show N` read them.

It runs as its own small process (``python -m vareon_local.mail DIR PORT``), not as a thread of
the supervisor, because the supervisor forks services and a fork must not copy a running
thread's locks.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

SUFFIX = ".eml"


@dataclass(frozen=True)
class StoredMail:
    number: int
    path: Path
    to: str
    subject: str
    date: str

    @classmethod
    def read(cls, path: Path) -> StoredMail:
        message = parse(path.read_bytes())
        return cls(
            int(path.stem),
            path,
            str(message["To"] or ""),
            str(message["Subject"] or ""),
            str(message["Date"] or ""),
        )


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def store(directory: Path, raw: bytes) -> Path:
    """Write a mail under the next free number (O_EXCL: two writers never share one)."""
    directory.mkdir(parents=True, exist_ok=True)
    number = max((int(p.stem) for p in directory.glob("*" + SUFFIX) if p.stem.isdigit()), default=0)
    while True:
        number += 1
        path = directory / f"{number:04d}{SUFFIX}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        return path


def list_mails(directory: Path) -> list[StoredMail]:
    paths = sorted(p for p in directory.glob("*" + SUFFIX) if p.stem.isdigit())
    return [StoredMail.read(p) for p in paths]


def render(path: Path) -> str:
    """Headers a person reads, then the text body (decoded)."""
    message = parse(path.read_bytes())
    head = "\n".join(f"{h}: {message[h]}" for h in ("From", "To", "Date", "Subject") if message[h])
    body = message.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else message.get_content()
    return f"{head}\n\n{text}"


class _Handler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        path = store(self.directory, envelope.content)
        mail = StoredMail.read(path)
        print(
            f"mail #{mail.number} to {mail.to}: {mail.subject}  (vareon mail show {mail.number})",
            flush=True,
        )
        return "250 Message accepted"


def serve(directory: Path, port: int) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Handler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def _die_with_parent() -> None:  # Linux: the kernel SIGTERMs the catcher when vareon dies
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailCatcher:
    """The catcher process: SMTP on 127.0.0.1:``port``, mails stored in ``directory``."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
            [sys.executable, "-m", "vareon_local.mail", str(self.directory), str(self.port)],
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the SMTP catcher exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the SMTP catcher did not listen on {self.port} in {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m vareon_local.mail DIRECTORY PORT")
    serve(Path(sys.argv[1]), int(sys.argv[2]))
