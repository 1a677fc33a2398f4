"""Context memory: what a request carries, what falls out, the summary and the key facts."""

from __future__ import annotations

from vareon_arcana import memory, tokens
from vareon_arcana.memory import Turn


def _size(turn: Turn) -> int:
    return tokens.PER_MESSAGE + tokens.count(turn.content)


def test_a_new_session_sends_the_system_prompt_and_the_message() -> None:
    context = memory.build("", [], [], "hi", memory_budget=100, history_budget=100)
    assert context.messages == [
        {"role": "system", "content": memory.SYSTEM},
        {"role": "user", "content": "hi"},
    ]
    assert context.dropped == []


def test_the_newest_turns_that_fit_are_kept_the_rest_dropped_oldest_first() -> None:
    history = [Turn("user" if i % 2 == 0 else "assistant", f"turn number {i}") for i in range(6)]
    budget = sum(_size(t) for t in history[-2:])  # room for exactly the last two
    context = memory.build("", [], history, "next", memory_budget=100, history_budget=budget)
    assert context.messages[1:] == [
        {"role": "user", "content": "turn number 4"},
        {"role": "assistant", "content": "turn number 5"},
        {"role": "user", "content": "next"},
    ]
    assert context.dropped == history[:4]


def test_a_turn_that_does_not_fit_ends_the_window_even_if_older_ones_would() -> None:
    history = [Turn("user", "short"), Turn("assistant", "long " * 50), Turn("user", "last")]
    budget = _size(history[2]) + _size(history[0])
    context = memory.build("", [], history, "q", memory_budget=100, history_budget=budget)
    assert [m["content"] for m in context.messages[1:]] == ["last", "q"]
    assert context.dropped == history[:2]


def test_facts_and_summary_go_in_the_system_message_within_the_memory_budget() -> None:
    context = memory.build(
        "user: asked about trains",
        ["My name is Ada."],
        [],
        "hi",
        memory_budget=100,
        history_budget=100,
    )
    system = context.messages[0]["content"]
    assert system.startswith(memory.SYSTEM + "\n\n")
    assert "- My name is Ada." in system
    assert system.endswith("Earlier in this conversation:\nuser: asked about trains")

    tight = memory.build("x " * 500, [], [], "hi", memory_budget=10, history_budget=100)
    added = tight.messages[0]["content"].removeprefix(memory.SYSTEM + "\n\n")
    assert tokens.count(added) <= 10


def test_fold_adds_one_short_line_per_dropped_turn_without_repeats() -> None:
    dropped = [Turn("user", "where   is\nthe station?"), Turn("assistant", "word " * 100)]
    summary = memory.fold("user: hello", dropped, budget=1_000)
    lines = summary.splitlines()
    assert lines[0] == "user: hello"
    assert lines[1] == "user: where is the station?"  # whitespace collapsed
    assert lines[2].startswith("assistant: word")
    assert tokens.count(lines[2].removeprefix("assistant: ")) == memory.LINE_TOKENS
    assert memory.fold(summary, dropped[:1], budget=1_000) == summary  # already there


def test_fold_drops_the_oldest_lines_past_the_budget() -> None:
    turns = [Turn("user", f"topic {i}") for i in range(20)]
    summary = memory.fold("", turns, budget=20)
    assert tokens.count(summary) <= 20
    assert summary.splitlines()[-1] == "user: topic 19"
    assert "user: topic 0" not in summary.splitlines()


def test_remember_keeps_fact_sentences_deduplicated_newest_last() -> None:
    facts = memory.remember([], "Hello there. My name is Ada. What is the weather?")
    assert facts == ["My name is Ada."]
    facts = memory.remember(facts, "I prefer tea. Remember that I live in Oslo!")
    assert facts == ["My name is Ada.", "I prefer tea.", "Remember that I live in Oslo!"]
    facts = memory.remember(facts, "My name is Ada.")  # said again: moves to newest
    assert facts == ["I prefer tea.", "Remember that I live in Oslo!", "My name is Ada."]
    assert memory.remember(facts, "What time is it?") == facts


def test_remember_keeps_the_newest_facts_only() -> None:
    facts: list[str] = []
    for i in range(memory.MAX_FACTS + 5):
        facts = memory.remember(facts, f"Remember item {i}.")
    assert len(facts) == memory.MAX_FACTS
    assert facts[0] == "Remember item 5." and facts[-1] == f"Remember item {memory.MAX_FACTS + 4}."


def test_a_fact_said_twice_is_kept_once() -> None:
    assert memory.remember([], "I am Ada. I am Ada.") == ["I am Ada."]
    long = "Remember that " + "my favourite numbers are one two three four " * 6 + "."
    once = memory.remember([], long)
    assert memory.remember(once, long) == once  # stored truncated, still the same fact
