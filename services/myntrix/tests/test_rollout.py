"""The rollout machine alone: no database, no app; simulated devices and a fake clock."""

import uuid
from datetime import UTC, datetime, timedelta

from vareon_myntrix import rollout
from vareon_myntrix.connectivity import AdminState, Connectivity
from vareon_myntrix.rollout import DeploymentState, DeviceReport, Plan, Target, TargetState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _plan(**overrides) -> Plan:
    base = dict(
        model_name="m",
        version=2,
        state=DeploymentState.ROLLING_OUT,
        batch_size=2,
        pause_s=0,
        failure_threshold=0.25,
        device_timeout_s=10,
    )
    return Plan(**{**base, **overrides})


def _report(version=1, connectivity=Connectivity.ONLINE, admin=AdminState.ACTIVE, pin=None):
    return DeviceReport(version, connectivity, admin, pin)


class Fleet:
    """Applies the machine's actions the way the service does; failing devices never update."""

    def __init__(self, n: int, failing: set[int], plan: Plan) -> None:
        self.ids = [uuid.uuid4() for _ in range(n)]
        self.failing = {self.ids[i] for i in failing}
        self.plan = plan
        self.targets = {i: Target(i, p, TargetState.PENDING) for p, i in enumerate(self.ids)}
        self.running = dict.fromkeys(self.ids, 1)
        self.reports_override: dict[uuid.UUID, DeviceReport] = {}

    def reports(self):
        return {i: self.reports_override.get(i, _report(self.running[i])) for i in self.ids}

    def step(self, now: datetime) -> list:
        actions = rollout.advance(self.plan, list(self.targets.values()), self.reports(), now)
        for a in actions:
            if isinstance(a, rollout.Finish):
                self.plan = Plan(**{**self.plan.__dict__, "state": a.state})
            elif isinstance(a, rollout.WaitUntil):
                self.plan = Plan(**{**self.plan.__dict__, "next_batch_at": a.at})
            else:
                state = {
                    rollout.Start: TargetState.IN_PROGRESS,
                    rollout.Succeed: TargetState.SUCCEEDED,
                    rollout.Fail: TargetState.FAILED,
                    rollout.Skip: TargetState.SKIPPED,
                    rollout.Cancel: TargetState.CANCELLED,
                }[type(a)]
                t = self.targets[a.device_id]
                self.targets[a.device_id] = Target(
                    t.device_id,
                    t.position,
                    state,
                    now if state is TargetState.IN_PROGRESS else t.started_at,
                )
        for i, t in self.targets.items():  # healthy devices install what they were told
            if t.state is TargetState.IN_PROGRESS and i not in self.failing:
                self.running[i] = self.plan.version
        return actions

    def run(self, seconds: int = 120) -> None:
        now = T0
        while self.plan.state is DeploymentState.ROLLING_OUT and now < T0 + timedelta(
            seconds=seconds
        ):
            self.step(now)
            now += timedelta(seconds=1)

    def states(self) -> list[TargetState]:
        return [self.targets[i].state for i in self.ids]


def test_ten_devices_three_failing_abort_at_the_threshold():
    fleet = Fleet(10, failing={0, 1, 2}, plan=_plan())
    fleet.run()
    assert fleet.plan.state is DeploymentState.FAILED
    states = fleet.states()
    assert states[:3] == [TargetState.FAILED] * 3
    assert states[3] is TargetState.SUCCEEDED
    assert states[4:] == [TargetState.CANCELLED] * 6
    assert [fleet.running[i] for i in fleet.ids[4:]] == [1] * 6  # never touched


def test_failures_under_the_threshold_still_succeed():
    fleet = Fleet(10, failing={9}, plan=_plan(batch_size=3))
    fleet.run()
    assert fleet.plan.state is DeploymentState.SUCCEEDED
    assert fleet.states().count(TargetState.SUCCEEDED) == 9


def test_batches_never_exceed_their_size_and_wait_out_the_pause():
    fleet = Fleet(5, failing=set(), plan=_plan(batch_size=2, pause_s=5))
    first = fleet.step(T0)
    assert sum(isinstance(a, rollout.Start) for a in first) == 2
    finished = fleet.step(T0 + timedelta(seconds=1))
    assert rollout.WaitUntil(T0 + timedelta(seconds=6)) in finished
    assert not any(isinstance(a, rollout.Start) for a in fleet.step(T0 + timedelta(seconds=3)))
    assert sum(isinstance(a, rollout.Start) for a in fleet.step(T0 + timedelta(seconds=6))) == 2


def test_maintenance_offline_and_pinned_devices_are_skipped_with_their_reason():
    fleet = Fleet(4, failing=set(), plan=_plan(batch_size=4))
    a, b, c, _ = fleet.ids
    fleet.reports_override = {
        a: _report(admin=AdminState.MAINTENANCE),
        b: _report(connectivity=Connectivity.OFFLINE),
        c: _report(pin=1),
    }
    skips = {x.device_id: x.reason for x in fleet.step(T0) if isinstance(x, rollout.Skip)}
    assert skips == {a: "maintenance", b: "offline", c: "pinned"}


def test_an_operator_abort_cancels_what_has_not_finished():
    fleet = Fleet(4, failing={0, 1}, plan=_plan())
    fleet.step(T0)
    actions = rollout.abort(list(fleet.targets.values()))
    assert actions[-1] == rollout.Finish(DeploymentState.ABORTED, "aborted")
    assert len([x for x in actions if isinstance(x, rollout.Cancel)]) == 4
