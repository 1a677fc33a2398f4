"""create_service: the FastAPI app every Vareon service is, with its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import Table, text
from vareon_contracts.services import SERVICES

from vareon_chassis import kafka_security
from vareon_chassis.auth import JWKSKeys, TokenVerifier
from vareon_chassis.body_limit import BodyLimitMiddleware
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.errors import document_problems, install_problem_handlers, problem
from vareon_chassis.messaging.broker import create_broker, create_producer, retry_forever
from vareon_chassis.messaging.consumer import ConsumerRuntime, EventConsumer
from vareon_chassis.messaging.outbox import Outbox
from vareon_chassis.messaging.relay import OutboxRelay
from vareon_chassis.messaging.status import StatusCache
from vareon_chassis.metrics import sample_messaging
from vareon_chassis.observability import (
    RequestContextMiddleware,
    configure_logging,
    metrics_endpoint,
)
from vareon_chassis.revocations import follow_revocations
from vareon_chassis.settings import ServiceSettings
from vareon_chassis.telemetry import export_otlp, instrument_app, instrument_engine
from vareon_chassis.validation import refuse_unstorable

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 5.0
"""A Kafka client that cannot stop cleanly (broker away, join in flight) is abandoned after
this long, so a shutdown always finishes; what it had not committed is redelivered."""


@dataclass
class Messaging:
    """What a service publishes (its outbox) and consumes (consumers + inbox table)."""

    outbox: Outbox | None = None
    inbox: Table | None = None
    consumers: Sequence[EventConsumer] = field(default_factory=tuple)


Resource = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[Any]]


def background(run: Callable[[FastAPI], Coroutine[Any, Any, None]]) -> Resource:
    """A task that runs for the app's life (a sweeper, a poller); cancelled at shutdown."""

    @contextlib.asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(run(app))
        try:
            yield
        finally:  # bounded: a task stuck in a client's shutdown is abandoned, not awaited
            task.cancel()
            await asyncio.wait([task], timeout=STOP_TIMEOUT_S)
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("background task failed", error=repr(task.exception()))

    return running


def create_service(
    settings: ServiceSettings,
    *,
    title: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    messaging: Messaging | None = None,
    token_verifier: TokenVerifier | None = None,
    with_database: bool = True,
    resources: Sequence[Resource] = (),
    follow_session_revocations: bool = True,
) -> FastAPI:
    """A Vareon service app. ``with_database=False`` for stateless services (the gateway).

    ``resources`` are entered after the database and messaging are set up and left before
    they are torn down: clients to open and close, or ``background(fn)`` tasks to run.
    An app that checks user tokens also follows identity's session revocations, unless
    ``follow_session_revocations=False`` (the gateway: the services behind it check).
    """
    messaging = messaging or Messaging()
    check_subscriptions(settings.service_name, messaging.consumers)
    configure_logging(settings.log_level, json=settings.log_json)
    export_otlp(settings.otlp_endpoint)
    kafka_security.configure(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = (
            create_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout_s=settings.db_pool_timeout_s,
            )
            if with_database
            else None
        )
        if engine is not None:
            instrument_engine(engine, settings.service_name)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine) if engine is not None else None
        app.state.started_at = time.time()
        if token_verifier is not None:
            app.state.token_verifier = token_verifier
        elif settings.jwks_url:
            app.state.token_verifier = TokenVerifier(
                JWKSKeys(settings.jwks_url),
                issuer=settings.token_issuer,
                audience=settings.token_audience,
            )
        tasks: list[asyncio.Task[None]] = []
        producer = None
        if messaging.outbox is not None or messaging.consumers:
            producer = create_producer(settings)
            tasks.append(asyncio.create_task(_start_messaging(app, settings, messaging, producer)))
        app.state.producer = producer
        try:
            async with contextlib.AsyncExitStack() as stack:
                if messaging.outbox is not None or messaging.consumers:
                    await stack.enter_async_context(background(sample_messaging)(app))
                for resource in _with_revocations(app, resources, follow_session_revocations):
                    await stack.enter_async_context(resource(app))
                yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:  # bounded: a connection that will not close must not hold up shutdown
                await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            broker = getattr(app.state, "broker", None)
            if broker is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(broker.stop(), STOP_TIMEOUT_S)
            for runtime in getattr(app.state, "consumer_runtimes", ()):
                await runtime.close()
            if producer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), STOP_TIMEOUT_S)
            app.state.messaging_status.close()
            if engine is not None:
                await engine.dispose()

    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable)],
    )
    app.state.settings = settings
    app.state.messaging = messaging
    app.state.messaging_status = StatusCache(group_prefix=settings.consumer_group_prefix)
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(
        BodyLimitMiddleware, limit=settings.max_body_bytes, exempt=settings.body_limit_exempt
    )
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.add_api_route("/health/live", _live, include_in_schema=False)
    app.add_api_route("/health/ready", _ready, include_in_schema=False)
    app.add_api_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)
    instrument_app(app, settings.service_name)
    return app


def _with_revocations(app: FastAPI, resources: Sequence[Resource], follow: bool) -> list[Resource]:
    """Every app that checks user tokens follows identity's session revocations (security by
    default: a logout or a password change ends a login everywhere in seconds)."""
    if not follow or getattr(app.state, "token_verifier", None) is None:
        return list(resources)
    return [background(follow_revocations), *resources]


class UndeclaredSubscription(ValueError):
    """A consumer handles an event type its service does not declare in SERVICES."""


def check_subscriptions(service: str, consumers: Sequence[EventConsumer]) -> None:
    """Refuse consumers of types ``SERVICES[service].consumes`` does not list (services
    not in SERVICES, such as test fixtures, declare nothing and are not checked)."""
    contract = SERVICES.get(service)
    if contract is None:
        return
    undeclared = sorted(
        f"{c.name} handles {t}" for c in consumers for t in c.handlers if t not in contract.consumes
    )
    if undeclared:
        raise UndeclaredSubscription(
            f"{service} consumes event types it does not declare: {'; '.join(undeclared)}. "
            f"Add them to SERVICES[{service!r}].consumes in "
            "libs/contracts/src/vareon_contracts/services.py"
        )


async def _start_messaging(
    app: FastAPI, settings: ServiceSettings, messaging: Messaging, producer: AIOKafkaProducer
) -> None:
    """Connect to Kafka in the background (retrying), then run the relay and the consumers."""
    await retry_forever(producer.start, "kafka producer", log)
    app.state.producer_ready = True
    runners: list[asyncio.Task[None]] = []
    if messaging.consumers:
        assert messaging.inbox is not None, "a service with consumers needs an inbox table"
        runtimes = [
            ConsumerRuntime(
                c,
                app.state.sessionmaker,
                messaging.inbox,
                producer,
                max_attempts=settings.consumer_max_attempts,
                backoff_s=settings.consumer_backoff_s,
                crash_after_commit_for=settings.consumer_crash_after_commit_for,
                producer_factory=lambda: create_producer(settings),
            )
            for c in messaging.consumers
        ]
        app.state.consumer_runtimes = runtimes
        broker = create_broker(settings, runtimes)
        app.state.broker = broker  # before start: a shutdown mid-start must still stop it
        await retry_forever(broker.start, "kafka consumers", log)
    if messaging.outbox is not None:
        relay = OutboxRelay(
            messaging.outbox.table,
            app.state.sessionmaker,
            lambda: create_producer(settings),
            database_url=settings.database_url,
            service=settings.service_name,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            listen=settings.relay_listen,
            retention_days=settings.outbox_retention_days,
            wake_dir=settings.kafka_wake_dir,
        )
        app.state.relay = relay
        runners.append(asyncio.create_task(relay.run()))
    try:
        await asyncio.gather(*runners)
    finally:
        for runner in runners:
            runner.cancel()


def consumer_assignment(app: FastAPI) -> dict[str, dict[str, list[int]]]:
    """``{consumer: {topic: [partitions this instance holds]}}``, every subscribed topic listed.

    An observation, not a readiness check: a replica beyond the partition count holds none,
    and a rebalance must not take every replica out of service at once. Whoever must know
    that events will be consumed (a test fixture, ``vareon up``) waits for
    ``consumers_assigned``."""
    prefix = app.state.settings.consumer_group_prefix
    held: dict[str, set[tuple[str, int]]] = {}
    broker = getattr(app.state, "broker", None)
    for subscriber in broker.subscribers if broker is not None else ():
        kafka = getattr(subscriber, "consumer", None)
        if kafka is not None:
            name = str(subscriber.group_id).removeprefix(prefix)
            held[name] = {(tp.topic, tp.partition) for tp in kafka.assignment()}
    return {
        c.name: {t: sorted(p for topic, p in held.get(c.name, ()) if topic == t) for t in c.topics}
        for c in app.state.messaging.consumers
    }


def consumers_assigned(ready_body: dict[str, Any]) -> bool:
    """A readiness body says every consumer holds partitions of every topic it reads."""
    assignment = ready_body.get("assignment", {})
    return all(len(parts) > 0 for topics in assignment.values() for parts in topics.values())


def with_outages(messaging: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The measured status plus, live, each consumer's outage (``None`` when consuming)."""
    runtimes = getattr(app.state, "consumer_runtimes", ())
    if not runtimes:
        return messaging
    consumers = {k: dict(v) for k, v in messaging.get("consumers", {}).items()}
    for runtime in runtimes:
        outage = runtime.outage
        consumers.setdefault(runtime.consumer.name, {})["outage"] = (
            outage.describe() if outage is not None else None
        )
    return {**messaging, "consumers": consumers}


async def _live() -> dict[str, str]:
    return {"status": "ok"}


async def _ready(request: Request) -> Any:
    app = request.app
    checks: dict[str, str] = {}
    if app.state.engine is not None:
        try:
            async with app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {type(exc).__name__}"
    if app.state.producer is not None:
        checks["broker"] = "ok" if getattr(app.state, "producer_ready", False) else "connecting"
    ok = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ok else "not-ready",
        "checks": checks,
        "uptime_s": round(time.time() - app.state.started_at, 3),
        "version": app.version,
    }
    if app.state.messaging.consumers:
        body["assignment"] = consumer_assignment(app)
    if getattr(app.state, "producer_ready", False):  # lag, dead letters, outbox backlog
        body["messaging"] = app.state.messaging_status.peek(
            app.state.settings.kafka_bootstrap,
            app.state.messaging.consumers,
            getattr(app.state, "relay", None),
        )
        body["messaging"] = with_outages(body["messaging"], app)
    if ok:
        return body
    return problem(
        503,
        "https://vareon.dev/problems/not-ready",
        "Not ready",
        "A dependency is not available.",
        **{k: v for k, v in body.items() if k != "status"},
    )
