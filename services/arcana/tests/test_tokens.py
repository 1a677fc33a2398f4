"""Token counting with the bundled cl100k encoding: exact counts, framing, truncation."""

from __future__ import annotations

from vareon_arcana import tokens


def test_counts_are_cl100k_counts() -> None:
    assert tokens.count("") == 0
    assert tokens.count("hello world") == 2
    assert tokens.count("The quick brown fox jumps over the lazy dog.") == 10


def test_special_token_text_is_counted_as_text_not_refused() -> None:
    """A user may type "<|endoftext|>": it is ordinary text, never a special token."""
    assert tokens.count("<|endoftext|>") == 7


def test_messages_add_chat_framing() -> None:
    messages = [{"role": "system", "content": "hello world"}, {"role": "user", "content": ""}]
    assert tokens.count_messages([]) == 3
    assert tokens.count_messages(messages) == 3 + (tokens.PER_MESSAGE + 2) + tokens.PER_MESSAGE


def test_truncate_keeps_the_first_tokens() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert tokens.truncate(text, 3) == "The quick brown"
    assert tokens.count(tokens.truncate(text, 7)) == 7
    assert tokens.truncate(text, 10) == text
    assert tokens.truncate(text, 100) == text
    assert tokens.truncate(text, 0) == ""
