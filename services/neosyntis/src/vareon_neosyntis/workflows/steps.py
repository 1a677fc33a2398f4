"""What each catalogue step does when the engine starts it.

``execute`` returns the step's outputs when it finished at once, or None when the step now
waits for an event (a training job's outcome, myntrix's deployment outcome). Raising a
DomainError or ValueError fails the attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from vareon_chassis.errors import NotFound
from vareon_contracts.events.neosyntis import ModelDeploymentRequestedV1

from vareon_neosyntis.datasets import service as datasets
from vareon_neosyntis.datasets.models import DatasetVersion
from vareon_neosyntis.db import OUTBOX
from vareon_neosyntis.lab import operations
from vareon_neosyntis.registry import service as registry
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.storage import Storage
from vareon_neosyntis.training import algorithms, artifacts
from vareon_neosyntis.training import service as training
from vareon_neosyntis.training.runner import ARTIFACT_SCHEME, lineage_parameters
from vareon_neosyntis.workflows.models import WorkflowRun, WorkflowRunStep


@dataclass(frozen=True)
class Context:
    storage: Storage
    settings: NeosyntisSettings


async def execute(
    session: AsyncSession,
    context: Context,
    run: WorkflowRun,
    step: WorkflowRunStep,
    steps: dict[str, WorkflowRunStep],
) -> dict[str, Any] | None:
    d = step.definition
    owner = run.owner_id
    if step.kind == "validate_dataset":
        _, version = await datasets.get_version(session, owner, d["dataset"], d["version"])
        if d["target"] not in {c["name"] for c in version.columns}:
            raise ValueError(f"dataset {d['dataset']!r} has no column {d['target']!r}")
        if version.row_count < d["min_rows"]:
            raise ValueError(f"{version.row_count} rows, fewer than {d['min_rows']}")
        return {"dataset_version_id": str(version.id), "rows": version.row_count}
    if step.kind == "train":
        job = await training.submit(
            session,
            owner,
            dataset=d["dataset"],
            dataset_version=d["version"],
            target=d["target"],
            algorithm=d["algorithm"],
            hyperparameters=d["hyperparameters"],
            budget_micro=d["budget_micro"],
            model_name=None,
            test_fraction=d["test_fraction"],
            seed=d["seed"],
            price_micro_per_cpu_s=context.settings.training_price_micro_per_cpu_s,
            max_attempts=context.settings.training_max_attempts,
            workflow_run_id=run.id,
            workflow_step=step.step_id,
        )
        step.training_job_id = job.id
        return None
    if step.kind == "evaluate":
        job = await training.get_job(session, owner, _job_id(steps[d["train_step"]]))
        found = await _evaluate(session, context, job)
        low = {m: v for m, v in d["min_metrics"].items() if found.get(m, float("-inf")) < v}
        if low:
            raise ValueError(f"below the required metrics: {low} (got {found})")
        return {"metrics": found}
    if step.kind == "register":
        train = steps[d["train_step"]]
        job = await training.get_job(session, owner, _job_id(train))
        try:
            await registry.get_model(session, d["model_name"])
        except NotFound:
            await registry.create_model(session, owner, d["model_name"], "")
        evaluated = next(
            (
                s.outputs["metrics"]
                for s in steps.values()
                if s.kind == "evaluate"
                and s.definition["train_step"] == train.step_id
                and s.state == "succeeded"
            ),
            None,
        )
        _, model_version = await registry.register_version(
            session,
            owner,
            d["model_name"],
            artifact_digest=job.artifact_digest or "",
            artifact_uri=job.artifact_uri,
            framework="scikit-learn",
            training_job_id=job.id,
            dataset_version_id=job.dataset_version_id,
            dataset_digest=job.dataset_digest,
            parameters=lineage_parameters(job),
            metrics=evaluated or job.metrics or {},
        )
        return {"model_name": d["model_name"], "version": model_version.version}
    if step.kind == "move_alias":
        registered = steps[d["register_step"]].outputs
        await registry.move_alias(
            session, owner, registered["model_name"], d["alias"], registered["version"]
        )
        return {"model_name": registered["model_name"], "alias": d["alias"]}
    if step.kind == "request_deployment":
        if "deployments:write" not in run.requester_permissions:
            raise ValueError("the run's starter did not hold 'deployments:write'")
        registered = steps[d["register_step"]].outputs
        step.deployment_id = uuid.uuid4()
        await OUTBOX.publish(
            session,
            ModelDeploymentRequestedV1(
                run_id=run.id,
                deployment_id=step.deployment_id,
                owner_id=owner,
                model_name=registered["model_name"],
                version=registered["version"],
                device_ids=[uuid.UUID(x) for x in d["device_ids"]],
                requested_at=datetime.now(UTC),
                requester_permissions=list(run.requester_permissions),
            ),
        )
        return None
    raise ValueError(f"unknown step kind {step.kind!r}")


def _job_id(train: WorkflowRunStep) -> uuid.UUID:
    if train.training_job_id is None:
        raise ValueError(f"step {train.step_id!r} has no training job")
    return train.training_job_id


async def _evaluate(session: AsyncSession, context: Context, job: Any) -> dict[str, float]:
    """Load the stored artifact (skops, trusted types only) and score it on the job's
    held-out split, recomputed from the dataset."""
    if not job.artifact_uri or job.dataset_version_id is None:
        raise ValueError("the training job has no artifact")
    version = await session.get(DatasetVersion, job.dataset_version_id)
    if version is None:
        raise ValueError("the dataset version no longer exists")
    algorithm = algorithms.CATALOGUE[job.algorithm]
    key = job.artifact_uri.removeprefix(ARTIFACT_SCHEME)
    storage, max_rows = context.storage, context.settings.training_max_rows

    def score() -> dict[str, float]:
        model = artifacts.loads(b"".join(storage.read(key)))
        with operations.spool(storage.read(version.storage_key)) as f:
            frame = operations.load_frame(
                f, version.format, version.columns, max_rows, context.settings.reader_max_bytes
            )
        data = algorithms.split(
            frame, version.columns, job.target, algorithm.task, job.test_fraction, job.seed
        )
        return algorithms.metrics(algorithm.task, data.y_test, model.predict(data.x_test))

    return await asyncio.to_thread(score)
