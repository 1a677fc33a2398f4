import pytest
from vareon_myntrix.lifecycle import (
    IllegalTransition,
    command_can_move,
    next_status,
    outcome_event,
)


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        ("stopped", "start", "starting"),
        ("starting", "started", "running"),
        ("running", "stop", "stopping"),
        ("stopping", "stopped", "stopped"),
        ("running", "restart", "starting"),
        ("failed", "start", "starting"),
        ("running", "failed", "failed"),
    ],
)
def test_legal_transitions(status, event, expected):
    assert next_status(status, event) == expected


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("stopped", "stop"),
        ("stopped", "restart"),
        ("running", "start"),
        ("stopping", "start"),
        ("stopped", "started"),
        ("failed", "stop"),
        ("starting", "restart"),
        ("bogus", "start"),
    ],
)
def test_illegal_transitions_are_refused(status, event):
    with pytest.raises(IllegalTransition):
        next_status(status, event)


def test_commands_only_move_forward():
    assert command_can_move("queued", "sent")
    assert command_can_move("sent", "succeeded")
    assert not command_can_move("acknowledged", "sent")
    assert not command_can_move("succeeded", "failed")
    assert not command_can_move("expired", "succeeded")


def test_a_finished_command_tells_the_agent_what_happened():
    assert outcome_event("stop", True) == "stopped"
    assert outcome_event("restart", True) == "started"
    assert outcome_event("start", False) == "failed"
