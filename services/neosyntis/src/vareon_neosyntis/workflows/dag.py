"""Workflow definitions: the step catalogue, DAG validation and the run engine's rules.
Plain domain code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STEP_ID = r"^[a-z][a-z0-9_-]{0,63}$"


class StepBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=STEP_ID)
    depends_on: list[str] = Field(default_factory=list, max_length=32)
    retries: int = Field(default=0, ge=0, le=10)
    retry_delay_s: float = Field(default=1.0, ge=0, le=3600)

    def references(self) -> list[str]:
        """Upstream steps whose outputs this step reads (must be among its ancestors)."""
        return []


class ValidateDataset(StepBase):
    kind: Literal["validate_dataset"]
    dataset: str
    version: int = Field(ge=1)
    target: str
    min_rows: int = Field(default=1, ge=1)


class Train(StepBase):
    kind: Literal["train"]
    dataset: str
    version: int = Field(ge=1)
    target: str
    algorithm: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    budget_micro: int = Field(gt=0)
    test_fraction: float = Field(default=0.25, ge=0.05, le=0.5)
    seed: int = Field(default=0, ge=0)


class Evaluate(StepBase):
    kind: Literal["evaluate"]
    train_step: str
    min_metrics: dict[str, float] = Field(default_factory=dict)
    """e.g. {"accuracy": 0.8}: the step fails below any of them."""

    def references(self) -> list[str]:
        return [self.train_step]


class Register(StepBase):
    kind: Literal["register"]
    train_step: str
    model_name: str

    def references(self) -> list[str]:
        return [self.train_step]


class MoveAlias(StepBase):
    kind: Literal["move_alias"]
    register_step: str
    alias: str

    def references(self) -> list[str]:
        return [self.register_step]


class RequestDeployment(StepBase):
    kind: Literal["request_deployment"]
    register_step: str
    device_ids: list[str] = Field(default_factory=list)

    def references(self) -> list[str]:
        return [self.register_step]


Step = Annotated[
    ValidateDataset | Train | Evaluate | Register | MoveAlias | RequestDeployment,
    Field(discriminator="kind"),
]
KINDS = ("validate_dataset", "train", "evaluate", "register", "move_alias", "request_deployment")
REFERENCE_KINDS = {
    "evaluate": {"train_step": "train"},
    "register": {"train_step": "train"},
    "move_alias": {"register_step": "register"},
    "request_deployment": {"register_step": "register"},
}


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(min_length=1, max_length=64)


class InvalidWorkflow(ValueError):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle as a path that ends where it starts (``[a, b, a]``), or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if colour.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in graph:
        if node not in colour and (found := visit(node)):
            return found
    return None


def ancestors(graph: Mapping[str, Iterable[str]], node: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(node, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += graph.get(current, ())
    return seen


def validate(definition: Definition) -> None:
    steps = {s.id: s for s in definition.steps}
    if len(steps) != len(definition.steps):
        ids = [s.id for s in definition.steps]
        raise InvalidWorkflow(
            "step ids must be unique", duplicates=sorted({i for i in ids if ids.count(i) > 1})
        )
    for step in definition.steps:
        unknown = [d for d in step.depends_on if d not in steps]
        if unknown:
            raise InvalidWorkflow(
                f"step {step.id!r} depends on unknown steps {unknown}", step=step.id
            )
    graph = {s.id: list(s.depends_on) for s in definition.steps}
    cycle = find_cycle(graph)
    if cycle:
        raise InvalidWorkflow("the steps form a cycle: " + " -> ".join(cycle), cycle=cycle)
    for step in definition.steps:
        for field, kind in REFERENCE_KINDS.get(step.kind, {}).items():
            ref = getattr(step, field)
            if ref not in steps or steps[ref].kind != kind:
                raise InvalidWorkflow(
                    f"step {step.id!r}: {field} must name a {kind} step", step=step.id
                )
            if ref not in ancestors(graph, step.id):
                raise InvalidWorkflow(
                    f"step {step.id!r} reads {ref!r}'s outputs, so it must depend on it",
                    step=step.id,
                )


# The run engine's rules -------------------------------------------------------------
DONE_OK = "succeeded"
DEAD = frozenset({"failed", "skipped", "cancelled"})
TERMINAL = DEAD | {DONE_OK}


def ready(states: Mapping[str, str], deps: Mapping[str, list[str]]) -> list[str]:
    return [
        s
        for s, state in states.items()
        if state == "pending" and all(states[d] == DONE_OK for d in deps[s])
    ]


def doomed(states: Mapping[str, str], deps: Mapping[str, list[str]]) -> list[str]:
    """Pending steps that can never run (an ancestor failed, was skipped or cancelled)."""
    return [
        s
        for s, state in states.items()
        if state == "pending" and any(states[d] in DEAD for d in ancestors(deps, s))
    ]


def outcome(states: Mapping[str, str]) -> str | None:
    if any(state not in TERMINAL for state in states.values()):
        return None
    return DONE_OK if all(state == DONE_OK for state in states.values()) else "failed"
