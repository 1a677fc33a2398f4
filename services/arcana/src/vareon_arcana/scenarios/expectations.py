"""Pure parts of a scenario: templates expanded into conversations, and expectations judged
against what the turns did (each verdict with its reason)."""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vareon_arcana.scenarios.schemas import Conversation, Expect

PLACEHOLDER = re.compile(r"\{(\w+)\}")
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
MAX_DEPTH = 8


@dataclass(frozen=True)
class TurnPlayed:
    """One question and what answered it."""

    question: str
    answer: str
    status: str
    rule: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost: int
    ttft_ms: float | None
    total_ms: float
    error: str | None = None
    fell_back: bool = False
    """Another target than the route's first answered (or none did)."""

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    expectation: str
    passed: bool
    reason: str

    def json(self) -> dict[str, Any]:
        return asdict(self)


def validate_template(turns: list[str], variables: dict[str, list[str]]) -> None:
    for turn in turns:
        for name in PLACEHOLDER.findall(turn):
            if name not in variables:
                raise ValueError(f"the template names {{{name}}}, which is not a variable")


def count(conversation: Conversation) -> int:
    """How many conversations ``expand`` makes (counted without making them)."""
    if conversation.template is None:
        return 1
    return math.prod(len(values) for values in conversation.template.variables.values())


def expand(conversation: Conversation) -> list[tuple[str, list[str]]]:
    """``(key, turns)`` per conversation: the given turns, or one per combination of the
    template's values (keyed ``name[var=value,...]``)."""
    template = conversation.template
    if template is None:
        return [(conversation.name, list(conversation.turns))]
    names = sorted(template.variables)
    made = []
    for values in itertools.product(*(template.variables[n] for n in names)):
        given = dict(zip(names, values, strict=True))
        turns = [_fill(t, given) for t in template.turns]
        label = ",".join(f"{n}={v}" for n, v in given.items())
        made.append((f"{conversation.name}[{label}]" if label else conversation.name, turns))
    return made


def _fill(turn: str, given: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: given[m.group(1)], turn)


def validate_shape(shape: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"json_shape nests deeper than {MAX_DEPTH}")
    if isinstance(shape, str):
        if shape != "any" and shape not in TYPES:
            raise ValueError(f"json_shape: unknown type {shape!r} (one of {sorted(TYPES)}, any)")
    elif isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError("json_shape: a list shape holds exactly one item shape")
        validate_shape(shape[0], depth + 1)
    elif isinstance(shape, dict):
        for value in shape.values():
            validate_shape(value, depth + 1)
    else:
        raise ValueError("json_shape: a type name, an object of shapes or [shape]")


def shape_mismatch(value: Any, shape: Any, at: str = "$") -> str | None:
    """Where ``value`` differs from ``shape`` (None when it fits)."""
    if isinstance(shape, str):
        if shape == "any":
            return None
        kinds = TYPES[shape]
        if isinstance(value, bool) and bool not in kinds:  # JSON true is no number
            return f"{at} is a boolean, not {shape}"
        return None if isinstance(value, kinds) else f"{at} is {_kind(value)}, not {shape}"
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{at} is {_kind(value)}, not an array"
        for i, item in enumerate(value):
            if (found := shape_mismatch(item, shape[0], f"{at}[{i}]")) is not None:
                return found
        return None
    if not isinstance(value, dict):
        return f"{at} is {_kind(value)}, not an object"
    for key, inner in shape.items():
        if key not in value:
            return f"{at}.{key} is missing"
        if (found := shape_mismatch(value[key], inner, f"{at}.{key}")) is not None:
            return found
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    for name, kinds in TYPES.items():
        if isinstance(value, kinds):
            return "an " + name if name[0] in "aeiou" else "a " + name
    return type(value).__name__


def judge(expect: Expect, turns: list[TurnPlayed], error: str | None) -> list[Verdict]:
    """One verdict per expectation given; a conversation that could not be played fails its
    ``answered`` verdict, and the rest are judged on what it did get."""
    verdicts = [Verdict("answered", error is None, error or f"{len(turns)} turn(s) answered")]
    if expect.rule is not None:
        verdicts.append(_each(turns, "rule", expect.rule, lambda t: t.rule))
    if expect.model is not None:
        verdicts.append(_each(turns, "model", expect.model, lambda t: t.model))
    if expect.max_cost is not None:
        cost = sum(t.cost for t in turns)
        verdicts.append(
            Verdict(
                "max_cost",
                cost <= expect.max_cost,
                f"cost {cost} micro-credits, at most {expect.max_cost} allowed",
            )
        )
    if expect.max_ttft_ms is not None:
        times = [t.ttft_ms for t in turns]
        slowest = max((t for t in times if t is not None), default=None)
        ok = bool(times) and None not in times and (slowest or 0) <= expect.max_ttft_ms
        shown = "no first token" if slowest is None or None in times else f"{slowest:.0f} ms"
        verdicts.append(
            Verdict("max_ttft_ms", ok, f"slowest first token {shown}, {expect.max_ttft_ms} ms max")
        )
    text = "\n".join(t.answer for t in turns).casefold()
    for wanted in expect.contains:
        found = wanted.casefold() in text
        said = "found" if found else "not found"
        verdicts.append(Verdict(f"contains:{wanted}", found, f"{wanted!r} {said} in the answers"))
    for unwanted in expect.not_contains:
        found = unwanted.casefold() in text
        said = "found" if found else "not found"
        verdicts.append(
            Verdict(f"not_contains:{unwanted}", not found, f"{unwanted!r} {said} in the answers")
        )
    if expect.json_shape is not None:
        verdicts.append(_json_shape(expect.json_shape, turns))
    return verdicts


def _each(turns: list[TurnPlayed], name: str, wanted: str, of: Any) -> Verdict:
    got = [of(t) for t in turns]
    wrong = [(i + 1, g) for i, g in enumerate(got) if g != wanted]
    if not turns:
        return Verdict(name, False, f"expected {wanted!r}; no turn was answered")
    if not wrong:
        return Verdict(name, True, f"{wanted!r} on every turn")
    i, g = wrong[0]
    return Verdict(name, False, f"expected {wanted!r}, turn {i} got {g!r}")


def _json_shape(shape: dict[str, Any], turns: list[TurnPlayed]) -> Verdict:
    if not turns:
        return Verdict("json_shape", False, "no answer")
    try:
        value = json.loads(turns[-1].answer)
    except ValueError as exc:
        return Verdict("json_shape", False, f"the last answer is not JSON: {exc}")
    found = shape_mismatch(value, shape)
    return Verdict("json_shape", found is None, found or "the last answer has the shape")
