"""The neosyntis service app: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.periodic import periodic
from vareon_chassis.service import Messaging, create_service
from vareon_chassis.settings import load_settings

from vareon_neosyntis.consumers import build_consumers
from vareon_neosyntis.datasets.api import router as datasets_router
from vareon_neosyntis.db import OUTBOX, inbox_table
from vareon_neosyntis.lab.api import router as lab_router
from vareon_neosyntis.lab.readers import Readers
from vareon_neosyntis.registry.api import router as registry_router
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import Storage, build_storage
from vareon_neosyntis.summary.api import router as summary_router
from vareon_neosyntis.training.api import router as training_router
from vareon_neosyntis.training.leases import sweep_expired
from vareon_neosyntis.workflows.api import router as workflows_router
from vareon_neosyntis.workflows.service import retry_due_steps


def create_app(
    settings: NeosyntisSettings | None = None,
    *,
    token_verifier: TokenVerifier | None = None,
    storage: Storage | None = None,
) -> FastAPI:
    settings = settings or load_settings(NeosyntisSettings)
    storage = storage or build_storage(settings)
    readers = Readers(settings.reader_memory_bytes, settings.reader_processes)
    lab_tasks: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def lab(app: FastAPI) -> AsyncIterator[None]:
        """Open-lab runs and their reader processes end before the database is disposed of."""
        try:
            yield
        finally:
            for task in lab_tasks:
                task.cancel()
            await asyncio.gather(*lab_tasks, return_exceptions=True)
            readers.close()

    app = create_service(
        settings,
        title="Vareon neosyntis",
        routers=[
            datasets_router,
            registry_router,
            lab_router,
            training_router,
            workflows_router,
            summary_router,
        ],
        token_verifier=token_verifier,
        messaging=Messaging(
            outbox=OUTBOX, inbox=inbox_table, consumers=build_consumers(storage, settings)
        ),
        resources=[
            lab,
            periodic(
                "workflow-retries",
                retry_due_steps,
                every_s=settings.workflow_retry_poll_s,
                first_delay_s=settings.workflow_retry_poll_s,
            ),
            periodic(
                "lease-sweep",
                sweep_expired,
                every_s=settings.training_sweep_interval_s,
                first_delay_s=settings.training_sweep_interval_s,
            ),
        ],
    )
    app.state.storage = storage
    app.state.lab_tasks = lab_tasks
    app.state.readers = readers
    return app
