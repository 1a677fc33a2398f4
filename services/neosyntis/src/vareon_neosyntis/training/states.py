"""The training job's life as an explicit state machine (plain domain code)."""

from __future__ import annotations

from enum import StrEnum

from vareon_chassis.errors import PROBLEM_BASE, Conflict


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    CRASHED = "crashed"


Q, R, S, F, CG, C, X = JobState
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    Q: frozenset({R, C}),
    R: frozenset({S, F, CG, X}),
    CG: frozenset({C}),
    # A crash is transient: the sweeper queues the job again, or fails it when no
    # attempts are left; a cancel that arrives in between wins.
    X: frozenset({Q, F, C}),
    S: frozenset(),
    F: frozenset(),
    C: frozenset(),
}
TERMINAL = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
ACTIVE = frozenset({R, CG})
"""States in which a worker holds a lease."""


class IllegalTransition(Conflict):
    type = PROBLEM_BASE + "illegal-job-transition"
    title = "Illegal training job transition"


def check(current: JobState | str, target: JobState) -> JobState:
    current = JobState(current)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"a {current} training job cannot become {target}",
            state=str(current),
            target=str(target),
        )
    return target


def on_cancel(current: JobState | str) -> JobState:
    """Where a cancel request takes a job: at once if no worker holds it, else via
    ``cancelling`` until the worker stops. Cancelling twice is harmless."""
    current = JobState(current)
    if current is CG:
        return CG
    return check(current, CG if current is R else C)
