"""The arcana shell's command language: a fixed set of commands, parsed from one line.

Nothing here runs anything: a line becomes a ``Command`` (a name and its argument) or a
``ShellError`` that the connection reports as an error line. There is no operating-system
shell, no eval and no subprocess behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE = 8_000

COMMANDS: dict[str, tuple[bool, str]] = {
    # name: (takes text, help)
    "help": (False, "list the commands"),
    "balance": (False, "your credits as arcana sees them"),
    "sessions": (False, "your newest chat sessions"),
    "ask": (True, "ask <text>: ask the model in this session (streamed, charged like chat)"),
    "route": (True, "route <text>: which rule and models would answer, without asking"),
    "status": (False, "rules, providers and this shell"),
    "exit": (False, "close the shell"),
}
HELP = "\n".join(f"{name:<9} {text}" for name, (_, text) in COMMANDS.items())


class ShellError(ValueError):
    """A line that is not a valid command; the shell stays open."""


@dataclass(frozen=True)
class Command:
    name: str
    text: str = ""


def parse(line: str) -> Command:
    if len(line) > MAX_LINE:
        raise ShellError(f"line too long (at most {MAX_LINE} characters)")
    name, _, rest = line.strip().partition(" ")
    name, rest = name.lower(), rest.strip()
    if not name:
        raise ShellError("empty line; type help")
    if name not in COMMANDS:
        raise ShellError(f"unknown command {name[:40]!r}; type help")
    takes_text = COMMANDS[name][0]
    if takes_text and not rest:
        raise ShellError(f"{name} needs text: {name} <text>")
    if not takes_text and rest:
        raise ShellError(f"{name} takes no arguments")
    return Command(name, rest)
