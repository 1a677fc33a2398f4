"""The neosyntis service app: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from vareon_chassis.auth import TokenVerifier
from vareon_chassis.service import Messaging, background, create_service
from vareon_chassis.settings import load_settings

from vareon_neosyntis.consumers import build_consumers
from vareon_neosyntis.datasets.api import router as datasets_router
from vareon_neosyntis.lab.api import router as lab_router
from vareon_neosyntis.lab.readers import Readers
from vareon_neosyntis.models import OUTBOX, inbox_table
from vareon_neosyntis.registry.api import router as registry_router
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import Storage, build_storage
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
    app = create_service(
        settings,
        title="Vareon neosyntis",
        routers=[datasets_router, registry_router, lab_router, training_router, workflows_router],
        token_verifier=token_verifier,
        messaging=Messaging(
            outbox=OUTBOX, inbox=inbox_table, consumers=build_consumers(storage, settings)
        ),
        resources=[background(retry_due_steps), background(sweep_expired)],
    )
    app.state.storage = storage
    app.state.lab_tasks = set()
    app.state.readers = Readers(settings.reader_memory_bytes, settings.reader_processes)
    chassis_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with chassis_lifespan(app):
            try:
                yield
            finally:
                tasks: set[asyncio.Task[None]] = app.state.lab_tasks
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                app.state.readers.close()

    app.router.lifespan_context = lifespan
    return app
