"""Events published by neosyntis: datasets, the model registry, training and workflows."""

from datetime import datetime
from uuid import UUID

from vareon_contracts import topics
from vareon_contracts.catalogue import EventPayload, register


@register
class ModelVersionRegisteredV1(EventPayload):
    """An immutable model version entered the registry (key: model name)."""

    event_type = "vareon.neosyntis.model.version-registered.v1"
    topic = topics.NEOSYNTIS_MODEL
    key_field = "model_name"

    model_id: UUID
    model_name: str
    version: int
    owner_id: UUID | None = None
    artifact_digest: str
    artifact_uri: str | None = None
    framework: str | None = None
    training_job_id: UUID | None = None
    dataset_version_id: UUID | None = None
    registered_at: datetime


@register
class ModelAliasMovedV1(EventPayload):
    """An alias (``champion``, ``staging``...) now points at ``version`` (None: removed)."""

    event_type = "vareon.neosyntis.model.alias-moved.v1"
    topic = topics.NEOSYNTIS_MODEL
    key_field = "model_name"

    model_id: UUID
    model_name: str
    alias: str
    version: int | None
    previous_version: int | None = None
    moved_at: datetime


@register
class DatasetVersionRegisteredV1(EventPayload):
    """A new immutable version of a dataset was uploaded (key: dataset id)."""

    event_type = "vareon.neosyntis.dataset.version-registered.v1"
    topic = topics.NEOSYNTIS_DATASET
    key_field = "dataset_id"

    dataset_id: UUID
    dataset_name: str
    dataset_version_id: UUID
    version: int
    owner_id: UUID
    format: str
    sha256: str
    size_bytes: int
    row_count: int
    registered_at: datetime


@register
class DatasetDeletedV1(EventPayload):
    """A dataset and all its versions were deleted (soft) by its owner (key: dataset id)."""

    event_type = "vareon.neosyntis.dataset.deleted.v1"
    topic = topics.NEOSYNTIS_DATASET
    key_field = "dataset_id"

    dataset_id: UUID
    dataset_name: str
    owner_id: UUID
    deleted_at: datetime


@register
class TrainingJobQueuedV1(EventPayload):
    """A training job is waiting for a worker (new, or again after a crash; key: job id)."""

    event_type = "vareon.neosyntis.training-job.queued.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    dataset_version_id: UUID
    algorithm: str
    target: str
    budget_micro: int
    attempt: int
    queued_at: datetime


@register
class TrainingJobStartedV1(EventPayload):
    """A worker claimed the job; ``fencing_token`` identifies this claim."""

    event_type = "vareon.neosyntis.training-job.started.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    worker: str
    attempt: int
    fencing_token: int
    started_at: datetime


@register
class TrainingJobProgressedV1(EventPayload):
    event_type = "vareon.neosyntis.training-job.progressed.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    progress: float
    cost_micro: int
    progressed_at: datetime


@register
class TrainingJobCompletedV1(EventPayload):
    """The job succeeded: metrics, the stored artifact and (if asked) the registered version."""

    event_type = "vareon.neosyntis.training-job.completed.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    metrics: dict[str, float]
    artifact_uri: str
    artifact_digest: str
    model_name: str | None = None
    model_version: int | None = None
    cost_micro: int
    workflow_run_id: UUID | None = None
    completed_at: datetime


@register
class TrainingJobFailedV1(EventPayload):
    """The job stopped with an error (``reason``: error, budget-exhausted, attempts-exhausted)."""

    event_type = "vareon.neosyntis.training-job.failed.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    reason: str
    error: str
    cost_micro: int
    workflow_run_id: UUID | None = None
    failed_at: datetime


@register
class TrainingJobCrashedV1(EventPayload):
    """The worker's lease expired; ``will_retry`` says whether the job was queued again."""

    event_type = "vareon.neosyntis.training-job.crashed.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    attempt: int
    fencing_token: int
    will_retry: bool
    crashed_at: datetime


@register
class TrainingJobCancelledV1(EventPayload):
    event_type = "vareon.neosyntis.training-job.cancelled.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    job_id: UUID
    owner_id: UUID
    cost_micro: int
    workflow_run_id: UUID | None = None
    cancelled_at: datetime


@register
class TrainingUsageRecordedV1(EventPayload):
    """Compute a training job used, in integer micro-credits (CPU-seconds x price).

    Like arcana's usage event, the envelope id is the charge's idempotency key. A job's
    charges never sum above its budget.
    """

    event_type = "vareon.neosyntis.training-job.usage-recorded.v1"
    topic = topics.NEOSYNTIS_TRAINING_JOB
    key_field = "job_id"

    usage_id: UUID
    job_id: UUID
    user_id: UUID
    cpu_seconds: float
    cost: int
    recorded_at: datetime


TRAINING_CHARGE_PREFIX = "training job "


def training_charge_reason(job_id: UUID) -> str:
    """The wallet's ``reason`` for a training charge: neosyntis reads the job back from it."""
    return f"{TRAINING_CHARGE_PREFIX}{job_id}"


def charged_training_job(kind: str | None, reason: str) -> UUID | None:
    """The training job a wallet usage transfer charged, if it was one."""
    if kind != "usage" or not reason.startswith(TRAINING_CHARGE_PREFIX):
        return None
    try:
        return UUID(reason.removeprefix(TRAINING_CHARGE_PREFIX))
    except ValueError:
        return None


@register
class WorkflowRunStartedV1(EventPayload):
    event_type = "vareon.neosyntis.workflow-run.started.v1"
    topic = topics.NEOSYNTIS_WORKFLOW_RUN
    key_field = "run_id"

    run_id: UUID
    workflow_id: UUID
    owner_id: UUID
    started_at: datetime


@register
class WorkflowStepChangedV1(EventPayload):
    """A step of a run changed state (pending, running, retrying, succeeded, failed,
    skipped, cancelled); the run's engine reacts to these."""

    event_type = "vareon.neosyntis.workflow-run.step-changed.v1"
    topic = topics.NEOSYNTIS_WORKFLOW_RUN
    key_field = "run_id"

    run_id: UUID
    step: str
    kind: str
    state: str
    attempt: int
    error: str | None = None
    changed_at: datetime


@register
class WorkflowRunFinishedV1(EventPayload):
    """The run ended: succeeded, failed or cancelled."""

    event_type = "vareon.neosyntis.workflow-run.finished.v1"
    topic = topics.NEOSYNTIS_WORKFLOW_RUN
    key_field = "run_id"

    run_id: UUID
    workflow_id: UUID
    owner_id: UUID
    state: str
    finished_at: datetime


@register
class ModelDeploymentRequestedV1(EventPayload):
    """A workflow asks myntrix to deploy a registered model version.

    Myntrix should create its deployment with ``deployment_id`` as its id, so its
    DeploymentSucceededV1 / DeploymentFailedV1 answer this request.
    """

    event_type = "vareon.neosyntis.workflow-run.deployment-requested.v1"
    topic = topics.NEOSYNTIS_WORKFLOW_RUN
    key_field = "run_id"

    run_id: UUID
    deployment_id: UUID
    owner_id: UUID
    model_name: str
    version: int
    device_ids: list[UUID] = []
    requested_at: datetime
    requester_permissions: list[str] = []
    """The permissions the requester held when the run started; myntrix refuses a request
    whose requester lacks ``deployments:write`` (events without the field are refused)."""
