"""Run one claimed job in a worker: train step by step, heartbeat, meter, stop when told.

Between steps the runner looks at what its heartbeat and its progress writes answered: a
``cancelling`` job stops and is marked cancelled; a lost lease (fencing token no longer
ours) stops without writing anything; reaching the budget fails the job with reason
``budget-exhausted`` and the job is charged exactly its budget (the last step's overshoot
is not billed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import DomainError, NotFound

from vareon_neosyntis.datasets.models import DatasetVersion
from vareon_neosyntis.lab import operations
from vareon_neosyntis.registry import service as registry
from vareon_neosyntis.storage import Storage
from vareon_neosyntis.training import algorithms, artifacts
from vareon_neosyntis.training.leases import Claim, Fence, Sessions, cost_of
from vareon_neosyntis.training.models import TrainingJob
from vareon_neosyntis.training.states import JobState

log = structlog.get_logger(__name__)
ARTIFACT_SCHEME = "neosyntis-storage://"


def artifact_key(job_id: Any, token: int) -> str:
    # The token in the key: a stale worker's upload can never replace the real artifact.
    return f"training-jobs/{job_id}/{token}/model.skops"


async def register_version(session: AsyncSession, job: TrainingJob) -> int | None:
    if job.model_name is None:
        return None
    try:
        await registry.get_model(session, job.model_name)
    except NotFound:
        await registry.create_model(session, job.owner_id, job.model_name, "")
    _, version = await registry.register_version(
        session,
        job.owner_id,
        job.model_name,
        artifact_digest=job.artifact_digest or "",
        artifact_uri=job.artifact_uri,
        framework=f"scikit-learn/{_sklearn_version()}",
        training_job_id=job.id,
        dataset_version_id=job.dataset_version_id,
        dataset_digest=job.dataset_digest,
        parameters=lineage_parameters(job),
        metrics=job.metrics or {},
    )
    return version.version


def lineage_parameters(job: TrainingJob) -> dict[str, Any]:
    return {
        "algorithm": job.algorithm,
        "hyperparameters": job.hyperparameters,
        "target": job.target,
        "test_fraction": job.test_fraction,
        "seed": job.seed,
    }


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def store(storage: Storage, key: str, data: bytes) -> None:
    writer = storage.writer(key)
    try:
        writer.write(data)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


class Runner:
    def __init__(
        self,
        sessions: Sessions,
        storage: Storage,
        claim: Claim,
        *,
        lease_s: float,
        heartbeat_s: float,
        max_rows: int,
        max_bytes: int | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.sessions = sessions
        self.storage = storage
        self.claim = claim
        self.fence = Fence(sessions, claim.job_id, claim.token, lease_s)
        self.heartbeat_s = heartbeat_s
        self.max_rows = max_rows
        self.told: JobState | None = JobState.RUNNING
        """What the last heartbeat said: None when the lease is lost."""

    async def _heartbeats(self) -> None:
        while self.told is not None:
            await asyncio.sleep(self.heartbeat_s)
            self.told = await self.fence.heartbeat()

    async def run(self) -> None:
        beat = asyncio.create_task(self._heartbeats())
        try:
            await self._train()
        except Exception as exc:
            known = isinstance(exc, ValueError | DomainError)  # bad data, registry refusals
            if not known:
                log.exception("training job failed", job_id=str(self.claim.job_id))
            await self.fence.fail("error", str(exc) if known else f"internal error: {exc!r}")
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _train(self) -> None:
        async with self.sessions() as session:
            job = await session.get(TrainingJob, self.claim.job_id)
            version = (
                await session.get(DatasetVersion, job.dataset_version_id)
                if job and job.dataset_version_id
                else None
            )
        if job is None:
            return
        if version is None:
            await self.fence.fail("error", "the dataset version no longer exists")
            return
        algorithm = algorithms.CATALOGUE[job.algorithm]
        params = algorithm.params.model_validate(job.hyperparameters)

        def prepare() -> algorithms.Trainer:
            with operations.spool(self.storage.read(version.storage_key)) as f:
                frame = operations.load_frame(
                    f, version.format, version.columns, self.max_rows, self.max_bytes
                )
            algorithms.check_target(algorithm, version.columns, job.target)
            data = algorithms.split(
                frame, version.columns, job.target, algorithm.task, job.test_fraction, job.seed
            )
            return algorithms.Trainer(algorithm, params, data)

        cpu_base, started = job.cpu_seconds, time.process_time()
        trainer = await asyncio.to_thread(prepare)
        await self.fence.log(
            f"{len(trainer.data.y_train)} training rows, {len(trainer.data.y_test)} held out; "
            f"{trainer.steps} steps"
        )
        for index in range(trainer.steps):
            if self.told is None:
                return
            if self.told == JobState.CANCELLING:
                await self.fence.cancelled()
                return
            await asyncio.to_thread(trainer.step, index)
            cpu = cpu_base + time.process_time() - started
            self.told = await self.fence.progress((index + 1) / trainer.steps, cpu)
            if self.told is None:
                return
            cost = cost_of(cpu, job.price_micro_per_cpu_s, job.budget_micro)
            if cost >= job.budget_micro and index + 1 < trainer.steps:
                await self.fence.fail(
                    "budget-exhausted",
                    f"the budget of {job.budget_micro} micro-credits was used after "
                    f"{index + 1} of {trainer.steps} steps",
                )
                return
        if self.told == JobState.CANCELLING:
            await self.fence.cancelled()
            return
        metrics = await asyncio.to_thread(trainer.evaluate)
        data, digest = await asyncio.to_thread(artifacts.dumps, trainer.pipeline())
        key = artifact_key(job.id, self.claim.token)
        await asyncio.to_thread(store, self.storage, key, data)
        written = await self.fence.complete(
            metrics, ARTIFACT_SCHEME + key, digest, register_version
        )
        if not written:
            await asyncio.to_thread(self.storage.delete, key)
