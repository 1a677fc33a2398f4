"""Command line for replay and dead letters, run where a service runs (its env, its database).

    python -m vareon_chassis.messaging.replay rebuild --service wallet --consumer wallet.users
    python -m vareon_chassis.messaging.deadletters list

Nothing changes without ``--execute``. The service is found by its app factory
(``vareon_<service>.app:create_app``), which reads the service's settings from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging import deadletters, replay
from vareon_chassis.messaging.broker import create_producer, group_id
from vareon_chassis.messaging.consumer import EventConsumer
from vareon_chassis.messaging.offsets import GroupActive
from vareon_chassis.settings import ServiceSettings


@dataclass
class ServiceHandle:
    settings: ServiceSettings
    consumers: Sequence[EventConsumer]
    inbox: Table | None
    outbox: Table | None
    sessionmaker: async_sessionmaker[AsyncSession]

    def consumer(self, name: str) -> EventConsumer:
        for consumer in self.consumers:
            if consumer.name == name:
                return consumer
        known = ", ".join(c.name for c in self.consumers) or "none"
        raise SystemExit(f"no consumer {name!r} in this service (it has: {known})")


@contextlib.asynccontextmanager
async def open_service(target: str) -> AsyncIterator[ServiceHandle]:
    """``wallet`` or ``vareon_wallet.app:create_app``: the app is built, never started."""
    path = target if ":" in target else f"vareon_{target}.app:create_app"
    module, _, factory = path.partition(":")
    app = getattr(importlib.import_module(module), factory)()
    settings, messaging = app.state.settings, app.state.messaging
    engine = create_engine(settings.database_url, pool_size=2, max_overflow=2)
    try:
        yield ServiceHandle(
            settings,
            messaging.consumers,
            messaging.inbox,
            messaging.outbox.table if messaging.outbox else None,
            create_sessionmaker(engine),
        )
    finally:
        await engine.dispose()


def _time(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _progress(done: int, total: int) -> None:
    print(f"  ... {done}/{total}", file=sys.stderr, flush=True)


def _mode(execute: bool) -> str:
    return "executed" if execute else "dry run (pass --execute to apply)"


async def _rebuild(args: argparse.Namespace) -> int:
    async with open_service(args.service) as svc:
        assert svc.inbox is not None, "the service has no inbox"
        report = await replay.rebuild(
            svc.consumer(args.consumer),
            sessionmaker=svc.sessionmaker,
            inbox=svc.inbox,
            bootstrap=svc.settings.kafka_bootstrap,
            since=args.since,
            execute=args.execute,
            force=args.force,
            wait_idle_s=args.wait_idle,
            check_members=not args.skip_member_check,
            progress=_progress,
            group=group_id(svc.settings, args.consumer),
        )
    print(f"rebuild {report.consumer}: {_mode(report.executed)}")
    scope = "from the start" if args.since is None else f"from {args.since.isoformat()}"
    print(f"  inbox rows to drop: {0 if args.since else report.inbox_rows} ({scope})")
    for span in report.spans:
        print(f"  {replay.tp_label(span)}: {span.count} records (offsets {span.start}..{span.end})")
    print(f"  total records: {report.records}")
    for outcome, count in sorted(report.outcomes.items()):
        print(f"  {outcome}: {count}")
    return 0


async def _reset(args: argparse.Namespace) -> int:
    to: datetime | str = args.to if args.to in ("earliest", "latest") else _time(args.to)
    async with open_service(args.service) as svc:
        consumer = svc.consumer(args.consumer)
        moves = await replay.reset_group(
            svc.settings.kafka_bootstrap,
            group_id(svc.settings, consumer.name),
            consumer.topics,
            to=to,
            execute=args.execute,
            wait_idle_s=args.wait_idle,
            check_members=not args.skip_member_check,
        )
    print(f"reset-offsets {args.consumer} to {args.to}: {_mode(args.execute)}")
    for move in moves:
        print(f"  {replay.tp_label(move)}: {move.current} -> {move.target}")
    return 0


async def _republish(args: argparse.Namespace) -> int:
    async with open_service(args.service) as svc:
        assert svc.outbox is not None, "the service has no outbox"
        report = await replay.republish(
            svc.outbox,
            svc.sessionmaker,
            lambda: create_producer(svc.settings),
            since=args.since,
            until=args.until,
            event_type=args.type,
            key=args.key,
            execute=args.execute,
            progress=_progress,
        )
    print(f"republish: {_mode(report.executed)}")
    for topic, count in sorted(report.per_topic.items()):
        print(f"  {topic}: {count} events")
    for (topic, partition), count in sorted(report.per_partition.items()):
        print(f"  {topic}[{partition}]: {count} sent")
    return 0


async def _quarantine(args: argparse.Namespace) -> int:
    async with open_service(args.service) as svc:
        assert svc.outbox is not None, "the service has no outbox"
        if args.action == "list":
            rows = await replay.quarantined(svc.outbox, svc.sessionmaker)
            print(f"{len(rows)} quarantined outbox rows")
            for row in rows:
                print(f"  id {row.id} {row.event_type} {row.topic} key={row.key}")
                print(f"    since {row.quarantined_at.isoformat()}: {row.quarantine_reason}")
            return 0
        if not args.id:
            raise SystemExit("pass --id (one or more quarantined row ids)")
        count = await replay.release(
            svc.outbox,
            svc.sessionmaker,
            args.id,
            drop=args.action == "drop",
            execute=args.execute,
        )
    print(f"quarantine {args.action}: {count} rows; {_mode(args.execute)}")
    return 0


async def _dlq_list(args: argparse.Namespace) -> int:
    found = await deadletters.scan(await _bootstrap(args), consumer=args.consumer)
    print(f"{len(found.messages)} pending dead letters")
    for (consumer, topic, reason), count in sorted(found.summary().items()):
        print(f"  {consumer}  {topic}  {reason}: {count}")
    return 0


async def _dlq_show(args: argparse.Namespace) -> int:
    import json

    found = await deadletters.scan(await _bootstrap(args), consumer=args.consumer)
    for message in found.messages[: args.limit]:
        print(json.dumps(message.describe(), indent=2))
    return 0


async def _dlq_redrive(args: argparse.Namespace) -> int:
    async with open_service(args.service) as svc:
        assert svc.inbox is not None, "the service has no inbox"
        report = await deadletters.redrive(
            svc.consumer(args.consumer),
            sessionmaker=svc.sessionmaker,
            inbox=svc.inbox,
            bootstrap=svc.settings.kafka_bootstrap,
            execute=args.execute,
            progress=_progress,
        )
    print(f"redrive {args.consumer}: {_mode(report.executed)}")
    for partition, count in sorted(report.pending.items()):
        print(f"  {partition}: {count} pending")
    for outcome, count in sorted(report.outcomes.items()):
        print(f"  {outcome}: {count}")
    return 0


async def _dlq_purge(args: argparse.Namespace) -> int:
    count = await deadletters.purge(await _bootstrap(args), args.consumer, execute=args.execute)
    print(f"purge {args.consumer}: {count} pending dead letters; {_mode(args.execute)}")
    return 0


async def _bootstrap(args: argparse.Namespace) -> str:
    if args.bootstrap:
        return str(args.bootstrap)
    async with open_service(args.service) as svc:
        return svc.settings.kafka_bootstrap


def _common(p: argparse.ArgumentParser, *, service_required: bool = True) -> None:
    p.add_argument(
        "--service",
        required=service_required,
        help="service name (wallet) or app factory (vareon_wallet.app:create_app)",
    )
    p.add_argument("--execute", action="store_true", help="apply (default: dry run)")


def _idle(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait for the group")
    p.add_argument(
        "--skip-member-check",
        action="store_true",
        help="the service is stopped; the embedded broker lists departed members forever",
    )


def replay_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replay", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("rebuild", help="reset a consumer's read model and re-consume its topics")
    _common(p)
    p.add_argument("--consumer", required=True)
    p.add_argument("--since", type=_time, help="ISO time: catch up from here, no reset")
    p.add_argument("--force", action="store_true", help="rebuild even from empty topics")
    _idle(p)
    p.set_defaults(run=_rebuild)
    p = sub.add_parser("reset-offsets", help="move a stopped consumer group to a time")
    _common(p)
    p.add_argument("--consumer", required=True)
    p.add_argument("--to", required=True, help="ISO time, earliest or latest")
    _idle(p)
    p.set_defaults(run=_reset)
    p = sub.add_parser("republish", help="send sent outbox rows again")
    _common(p)
    p.add_argument("--since", type=_time)
    p.add_argument("--until", type=_time)
    p.add_argument("--type", help="event type, e.g. vareon.wallet.balance.changed.v1")
    p.add_argument("--key", help="aggregate key (the Kafka key)")
    p.set_defaults(run=_republish)
    p = sub.add_parser(
        "quarantine", help="outbox rows the relay cannot publish: list, retry or drop them"
    )
    p.add_argument("action", choices=("list", "retry", "drop"))
    _common(p)
    p.add_argument("--id", type=int, action="append", help="a quarantined row id (repeatable)")
    p.set_defaults(run=_quarantine)
    return parser


def dlq_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlq", description="Dead letters (<topic>.dlq).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, run, help_ in (
        ("list", _dlq_list, "pending dead letters per consumer, topic and reason"),
        ("show", _dlq_show, "pending dead letters with their headers and payload"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--service", help="read the broker address from this service's settings")
        p.add_argument("--bootstrap", help="Kafka bootstrap servers")
        p.add_argument("--consumer", help="only this consumer")
        p.add_argument("--limit", type=int, default=20)
        p.set_defaults(run=run)
    p = sub.add_parser("redrive", help="re-apply a consumer's dead letters through its inbox")
    _common(p)
    p.add_argument("--consumer", required=True)
    p.set_defaults(run=_dlq_redrive)
    p = sub.add_parser("purge", help="mark a consumer's dead letters handled")
    _common(p, service_required=False)
    p.add_argument("--bootstrap")
    p.add_argument("--consumer", required=True)
    p.set_defaults(run=_dlq_purge)
    return parser


def main(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    args = parser.parse_args(argv)
    if hasattr(args, "bootstrap") and not (args.bootstrap or args.service):
        parser.error("pass --bootstrap or --service")
    try:
        return int(asyncio.run(args.run(args)))
    except (GroupActive, replay.Refused) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1


def run_replay(argv: Sequence[str] | None = None) -> Any:
    return main(replay_parser(), argv)


def run_dlq(argv: Sequence[str] | None = None) -> Any:
    return main(dlq_parser(), argv)
