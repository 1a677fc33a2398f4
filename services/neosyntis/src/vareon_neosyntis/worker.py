"""The training worker: `vareon-neosyntis worker` or `python -m vareon_neosyntis.worker`.

Each worker process runs one job at a time. It claims work from the job table with
``FOR UPDATE SKIP LOCKED`` (the database is the only source of truth for claims), looking
again at once when the outbox's NOTIFY says a commit staged an event (a job is queued with
its ``training-job.queued`` event) and every ``training_poll_interval_s`` otherwise, and
sweeps expired leases of other workers on the way. Settings are neosyntis's (``NEOSYNTIS_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time

import pandas  # noqa: F401 - the worker trains: its data libraries load at start, not in a job
import pyarrow  # noqa: F401
import structlog
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_chassis.messaging.relay import libpq_url, listen_for_commits
from vareon_chassis.observability import configure_logging
from vareon_chassis.settings import load_settings

from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import build_storage
from vareon_neosyntis.training.leases import claim, sweep
from vareon_neosyntis.training.runner import Runner

log = structlog.get_logger(__name__)


async def work(settings: NeosyntisSettings, name: str, stop: asyncio.Event) -> None:
    wake = asyncio.Event()
    listener = asyncio.create_task(
        listen_for_commits(
            libpq_url(settings.database_url), wake, settings.training_poll_interval_s
        )
    )
    try:
        await _work(settings, name, stop, wake)
    finally:
        listener.cancel()
        await asyncio.wait([listener], timeout=2.0)


async def _work(
    settings: NeosyntisSettings, name: str, stop: asyncio.Event, wake: asyncio.Event
) -> None:
    engine = create_engine(settings.database_url, pool_size=3, max_overflow=2)
    sessions = create_sessionmaker(engine)
    storage = build_storage(settings)
    lease_s = settings.training_lease_s
    heartbeat_s = settings.training_heartbeat_s or lease_s / 4
    next_sweep = 0.0
    log.info("worker started", worker=name, lease_s=lease_s)
    try:
        while not stop.is_set():
            if time.monotonic() >= next_sweep:
                swept = await sweep(sessions)
                if swept:
                    log.info("expired leases swept", jobs=swept)
                next_sweep = time.monotonic() + settings.training_sweep_interval_s
            wake.clear()  # before claiming: a job queued from here on wakes the next wait
            claimed = await claim(sessions, name, lease_s)
            if claimed is None:
                stopping = asyncio.ensure_future(stop.wait())
                woken = asyncio.ensure_future(wake.wait())
                await asyncio.wait(
                    [stopping, woken],
                    timeout=settings.training_poll_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                stopping.cancel()
                woken.cancel()
                continue
            log.info("job claimed", job_id=str(claimed.job_id), token=claimed.token)
            runner = Runner(
                sessions,
                storage,
                claimed,
                lease_s=lease_s,
                heartbeat_s=heartbeat_s,
                max_rows=settings.training_max_rows,
                max_bytes=settings.reader_max_bytes,
            )
            await runner.run()
            log.info("job left", job_id=str(claimed.job_id), state=str(runner.told))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vareon-neosyntis")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("worker", help="run a training worker")
    run.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}")
    args = parser.parse_args(argv)
    settings = load_settings(NeosyntisSettings)
    configure_logging(settings.log_level, json=settings.log_json)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await work(settings, args.name, stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1:] or ["worker"])
