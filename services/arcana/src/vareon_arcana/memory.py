"""Context memory: what is sent with each request besides the new message.

Simple on purpose: a request carries (1) a system message with the session's summary and key
facts, trimmed to ``memory_budget`` tokens, then (2) the newest turns that fit
``history_budget`` tokens, then the new user message. Turns that no longer fit are folded
into the summary as one short line each (newest kept when the summary is over budget). Key
facts are the user's own sentences that state something to remember ("my name is ...",
"I am ...", "remember ..."), deduplicated, newest kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vareon_arcana import tokens

SYSTEM = "You are Vareon's assistant. Answer helpfully and concisely."
_FACT = re.compile(r"\b(my name is|i am|i'm|i work|i live|i prefer|remember)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
LINE_TOKENS = 40
MAX_FACTS = 20


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class Context:
    messages: list[dict[str, str]]
    dropped: list[Turn]
    """Turns left out of the request: the caller folds them into the summary."""


def build(
    summary: str,
    facts: list[str],
    history: list[Turn],
    new_message: str,
    *,
    memory_budget: int,
    history_budget: int,
) -> Context:
    system = SYSTEM
    memory = ""
    if facts:
        memory += "Key facts about the user:\n" + "\n".join(f"- {f}" for f in facts) + "\n"
    if summary:
        memory += "Earlier in this conversation:\n" + summary
    if memory:
        system += "\n\n" + tokens.truncate(memory, memory_budget)
    kept: list[Turn] = []
    used = 0
    for turn in reversed(history):
        size = tokens.PER_MESSAGE + tokens.count(turn.content)
        if used + size > history_budget:
            break
        kept.append(turn)
        used += size
    kept.reverse()
    dropped = history[: len(history) - len(kept)]
    messages = [{"role": "system", "content": system}]
    messages += [{"role": t.role, "content": t.content} for t in kept]
    messages.append({"role": "user", "content": new_message})
    return Context(messages, dropped)


def fold(summary: str, dropped: list[Turn], budget: int) -> str:
    """The summary with ``dropped`` turns added, one short line each, within ``budget``."""
    lines = [line for line in summary.splitlines() if line]
    for turn in dropped:
        line = f"{turn.role}: {tokens.truncate(' '.join(turn.content.split()), LINE_TOKENS)}"
        if line not in lines:
            lines.append(line)
    while lines and tokens.count("\n".join(lines)) > budget:
        lines.pop(0)
    return "\n".join(lines)


def remember(facts: list[str], user_message: str) -> list[str]:
    """``facts`` with the message's fact sentences added as the newest (a fact said again
    moves to the end, once; each is stored as its first ``LINE_TOKENS`` tokens)."""
    found = [
        tokens.truncate(s.strip(), LINE_TOKENS)
        for s in _SENTENCE.split(user_message)
        if _FACT.search(s)
    ]
    found = list(dict.fromkeys(found))
    merged = [f for f in facts if f not in found] + found
    return merged[-MAX_FACTS:]
