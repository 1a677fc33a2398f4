"""The shell's parser: one line becomes a ``Parsed`` command (a name and its text) or a
``ShellError`` that the connection reports as an error line.

Nothing here runs anything: there is no operating-system shell, no eval and no subprocess
behind it. Which names exist and whether they take text is the command table's
(``commands.COMMANDS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

MAX_LINE = 8_000


class Takes(Protocol):
    @property
    def takes_text(self) -> bool: ...


class ShellError(ValueError):
    """A line that is not a valid command; the shell stays open."""


@dataclass(frozen=True)
class Parsed:
    name: str
    text: str = ""


def parse(line: str, commands: Mapping[str, Takes]) -> Parsed:
    if len(line) > MAX_LINE:
        raise ShellError(f"line too long (at most {MAX_LINE} characters)")
    name, _, rest = line.strip().partition(" ")
    name, rest = name.lower(), rest.strip()
    if not name:
        raise ShellError("empty line; type help")
    if name not in commands:
        raise ShellError(f"unknown command {name[:40]!r}; type help")
    takes_text = commands[name].takes_text
    if takes_text and not rest:
        raise ShellError(f"{name} needs text: {name} <text>")
    if not takes_text and rest:
        raise ShellError(f"{name} takes no arguments")
    return Parsed(name, rest)
