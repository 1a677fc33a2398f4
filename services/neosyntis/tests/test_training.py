from __future__ import annotations

import uuid

import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import func, select
from vareon_chassis.db import create_engine, create_sessionmaker
from vareon_contracts import topics
from vareon_neosyntis.training import artifacts
from vareon_neosyntis.training.leases import Fence
from vareon_neosyntis.training.models import TrainingJob, TrainingJobLog

from .conftest import API
from .training_support import LEASE_S, eventually, job_in, known_frame, upload, workers

JOBS = f"{API}/training-jobs"


def job_body(**overrides):
    return {
        "dataset": "known",
        "dataset_version": 1,
        "target": "label",
        "algorithm": "logistic_regression",
        "hyperparameters": {"C": 0.5},
        "budget_micro": 10_000_000,
        **overrides,
    }


def slow(n_estimators: int = 3000, **overrides):
    return job_body(
        algorithm="random_forest_classifier",
        hyperparameters={"n_estimators": n_estimators, "max_depth": 8},
        **overrides,
    )


async def submit(client, user, body):
    response = await client.post(JOBS, json=body, headers=user)
    assert response.status_code == 201, response.text
    return response.json()


async def until(client, user, job_id, *states, timeout_s=120.0):
    """Waits for the job's state; the bound covers worker processes importing scikit-learn on
    a loaded 2-core machine (tens of seconds), it is not a window on how fast training is."""
    return await eventually(await job_in(client, user, job_id, *states), timeout_s)


WORKERS_TIMEOUT = pytest.mark.timeout(400)  # several of those bounds in a row


async def test_submit_validates_and_cancel_follows_the_state_machine(client, user):
    await upload(client, user, "known", known_frame())
    bad = await client.post(JOBS, json=job_body(hyperparameters={"C": -1}), headers=user)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["hyperparameters", "C"]
    unknown = await client.post(JOBS, json=job_body(algorithm="magic"), headers=user)
    assert unknown.status_code == 422 and "logistic_regression" in unknown.json()["algorithms"]
    wrong_target = await client.post(JOBS, json=job_body(algorithm="ridge", hyperparameters={}))
    assert wrong_target.status_code == 401
    wrong_target = await client.post(
        JOBS, json=job_body(algorithm="ridge", hyperparameters={}), headers=user
    )
    assert wrong_target.status_code == 422 and "numeric target" in wrong_target.json()["detail"]

    job = await submit(client, user, job_body())
    assert job["state"] == "queued" and job["hyperparameters"] == {"C": 0.5, "max_iter": 1000}
    cancelled = await client.post(f"{JOBS}/{job['id']}/cancel", headers=user)
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    again = await client.post(f"{JOBS}/{job['id']}/cancel", headers=user)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("illegal-job-transition")
    listed = (await client.get(JOBS, params={"state": "cancelled"}, headers=user)).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]


@WORKERS_TIMEOUT
async def test_metrics_match_sklearn_and_the_version_is_registered(
    client, user, settings, tmp_path
):
    frame = known_frame()
    dataset = await upload(client, user, "known", frame)
    job = await submit(client, user, job_body(model_name="churn", seed=4, test_fraction=0.3))
    with workers(settings, tmp_path, "w1"):
        done = await until(client, user, job["id"], "succeeded", "failed")
    assert done["state"] == "succeeded", done

    x = frame[["x1", "x2", "x3"]].to_numpy(dtype=float)
    y = frame["label"].astype(str).to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=4, stratify=y
    )
    expected = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)
    ).fit(x_train, y_train)
    predicted = expected.predict(x_test)
    assert done["metrics"]["accuracy"] == pytest.approx(accuracy_score(y_test, predicted))
    assert done["metrics"]["f1_macro"] == pytest.approx(
        f1_score(y_test, predicted, average="macro")
    )

    key = done["artifact_uri"].removeprefix("neosyntis-storage://")
    model = artifacts.loads((settings.storage_dir / key).read_bytes())
    assert (model.predict(x_test) == predicted).all()

    version = (await client.get(f"{API}/models/churn/versions/1", headers=user)).json()
    assert version["training_job_id"] == job["id"]
    assert version["dataset_version_id"] == dataset["latest"]["id"] == done["dataset_version_id"]
    assert version["dataset_digest"] == done["dataset_digest"] == dataset["latest"]["sha256"]
    assert version["artifact_digest"] == done["artifact_digest"]
    assert version["metrics"] == done["metrics"]
    assert version["parameters"]["algorithm"] == "logistic_regression"
    assert done["model_version"] == 1 and 0 < done["cost_micro"] <= done["budget_micro"]
    logs = (await client.get(f"{JOBS}/{job['id']}/logs", headers=user)).json()
    assert "claimed by w1" in logs[0]["message"] and logs[-1]["message"] == "finished"


async def test_untrusted_artifacts_are_refused():
    import skops.io as sio

    class Evil:
        pass

    with pytest.raises(artifacts.UntrustedArtifact):
        artifacts.loads(sio.dumps({"x": Evil()}))


async def test_builtin_functions_in_artifacts_are_refused():
    """Issue 16 item 9: only an explicit list of types is trusted, not every ``builtins.*``
    (``eval`` inside a FunctionTransformer would run on every predict)."""
    import builtins

    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    for payload in (
        make_pipeline(FunctionTransformer(func=builtins.eval)),
        {"f": builtins.exec, "g": builtins.getattr},
    ):
        with pytest.raises(artifacts.UntrustedArtifact):
            artifacts.loads(sio.dumps(payload))


def test_every_catalogue_algorithms_artifact_loads():
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from vareon_neosyntis.training import algorithms

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    labels = {"classification": np.where(x[:, 0] > 0, "yes", "no"), "regression": x[:, 1]}
    for algorithm in algorithms.CATALOGUE.values():
        estimator = algorithm.build(algorithm.params())
        steps = [("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]
        model = Pipeline([*steps, ("model", estimator)]).fit(x, labels[algorithm.task])
        loaded = artifacts.loads(artifacts.dumps(model)[0])
        assert (loaded.predict(x) == model.predict(x)).all(), algorithm.name


@WORKERS_TIMEOUT
async def test_sigkill_crash_retry_and_a_stale_token_writes_nothing(
    client, user, settings, tmp_path, event_log
):
    await upload(client, user, "known", known_frame(1500))
    job = await submit(client, user, slow(n_estimators=200))
    with workers(settings, tmp_path, "doomed", lease_s=LEASE_S) as pool:

        async def progressing():
            got = (await client.get(f"{JOBS}/{job['id']}", headers=user)).json()
            return got if got["progress"] > 0 else None

        await eventually(progressing, timeout_s=120)
        pool.kill("doomed")
        crashed = await event_log.wait_for(
            topics.NEOSYNTIS_TRAINING_JOB,
            lambda e: e.type.endswith("crashed.v1") and e.data["job_id"] == job["id"],
        )
        # No worker is running now: the app's own sweeper noticed the expired lease.
        assert all(process.poll() is not None for process in pool.processes.values())
        logs = (await client.get(f"{JOBS}/{job['id']}/logs", headers=user)).json()
        assert any("lease of doomed expired: crashed" in line["message"] for line in logs)
        assert crashed[0].data["will_retry"] is True and crashed[0].data["fencing_token"] == 1
        requeued = (await client.get(f"{JOBS}/{job['id']}", headers=user)).json()
        assert requeued["state"] == "queued"
        pool.start("rescuer")
        done = await until(client, user, job["id"], "succeeded", "failed")
    assert done["state"] == "succeeded" and done["attempts"] == 2

    engine = create_engine(settings.database_url)
    try:
        sessions = create_sessionmaker(engine)
        stale = Fence(sessions, uuid.UUID(job["id"]), token=1, lease_s=60)
        assert await stale.heartbeat() is None
        assert await stale.log("I am back") is False
        assert await stale.progress(0.5, 1.0) is None
        assert await stale.fail("error", "overwritten") is False
        assert await stale.cancelled() is False

        async def register(session, job):
            raise AssertionError("a stale worker must not reach registration")

        assert await stale.complete({"accuracy": 0.0}, "x", "sha256:0", register) is False
        async with sessions() as session:
            row = await session.get(TrainingJob, uuid.UUID(job["id"]))
            stale_lines = await session.scalar(
                select(func.count()).where(TrainingJobLog.message == "I am back")
            )
        assert row.state == "succeeded" and row.fencing_token == 2
        assert row.metrics == done["metrics"] and row.progress == 1.0 and stale_lines == 0
    finally:
        await engine.dispose()


@WORKERS_TIMEOUT
async def test_two_workers_never_run_the_same_job(client, user, settings, tmp_path):
    await upload(client, user, "known", known_frame())
    jobs = [await submit(client, user, job_body(seed=i)) for i in range(8)]
    with workers(settings, tmp_path, "a", "b"):
        for job in jobs:
            done = await until(client, user, job["id"], "succeeded", "failed")
            assert done["state"] == "succeeded" and done["attempts"] == 1
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            claims = (
                await session.execute(
                    select(TrainingJobLog.job_id, func.count())
                    .where(TrainingJobLog.message.like("attempt % claimed by %"))
                    .group_by(TrainingJobLog.job_id)
                )
            ).all()
            tokens = set(await session.scalars(select(TrainingJob.fencing_token)))
    finally:
        await engine.dispose()
    assert len(claims) == 8 and all(count == 1 for _, count in claims)
    assert tokens == {1}


@WORKERS_TIMEOUT
async def test_cancel_stops_the_worker_and_the_budget_is_charged_exactly(
    app, client, user, settings, tmp_path, event_log
):
    await upload(client, user, "known", known_frame(1500))
    long_job = await submit(client, user, slow())
    with workers(settings, tmp_path, "w"):

        async def progressing():
            got = (await client.get(f"{JOBS}/{long_job['id']}", headers=user)).json()
            return got if got["progress"] > 0 else None

        await eventually(progressing, timeout_s=120)
        response = await client.post(f"{JOBS}/{long_job['id']}/cancel", headers=user)
        assert response.status_code == 202 and response.json()["state"] == "cancelling"
        cancelled = await until(client, user, long_job["id"], "cancelled")
        assert cancelled["progress"] < 1
        # the worker stopped it at its next heartbeat (the sweeper would say its lease expired)
        logs = (await client.get(f"{JOBS}/{long_job['id']}/logs", headers=user)).json()
        assert logs[-1]["message"] == "stopped: cancelled", logs

        # A price so high that a few milliseconds of CPU use up the budget.
        app.state.settings.training_price_micro_per_cpu_s = 1_000_000_000
        budget = 250_000
        poor = await submit(client, user, slow(budget_micro=budget))
        done = await until(client, user, poor["id"], "failed", "succeeded")
    assert done["state"] == "failed" and done["failure_reason"] == "budget-exhausted"
    assert done["cost_micro"] == budget and done["progress"] < 1
    usage = await event_log.all(
        topics.NEOSYNTIS_TRAINING_JOB,
        lambda e: e.type.endswith("usage-recorded.v1") and e.data["job_id"] == poor["id"],
    )
    assert sum(e.data["cost"] for e in usage) == budget
    assert all(e.data["user_id"] == done["owner_id"] for e in usage)
    assert len({e.id for e in usage}) == len(usage)
