from __future__ import annotations

import asyncio
import io

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .conftest import API


def known_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 120
    x1 = rng.normal(0, 1, n).round(4)
    x2 = rng.uniform(0, 10, n).round(3)
    noisy = (x1 + 0.3 * x2 + rng.normal(0, 0.5, n)).round(4)
    label = np.where(x1 + rng.normal(0, 0.3, n) > 0, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "y": noisy, "label": label})


async def wait_done(client, headers, op):
    for _ in range(600):  # the first operation may wait for its reader process to start
        got = (await client.get(f"{API}/open-lab/operations/{op['id']}", headers=headers)).json()
        if got["status"] in ("succeeded", "failed"):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError("operation did not finish")


@pytest.fixture
async def dataset(client, user):
    body = known_frame().to_csv(index=False).encode()
    response = await client.post(
        f"{API}/datasets", params={"name": "known", "format": "csv"}, content=body, headers=user
    )
    assert response.status_code == 201, response.text
    return pd.read_csv(io.BytesIO(body))


async def test_preview_and_profile_match_pandas(client, user, dataset):
    preview = await client.post(
        f"{API}/open-lab/preview", headers=user, json={"dataset": "known", "version": 1, "limit": 3}
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["rows"] == dataset.head(3).to_dict(orient="records")

    started = await client.post(
        f"{API}/open-lab/profile", headers=user, json={"dataset": "known", "version": 1}
    )
    assert started.status_code == 202 and started.headers["location"].endswith(started.json()["id"])
    result = (await wait_done(client, user, started.json()))["result"]
    columns = {c["name"]: c for c in result["columns"]}
    assert result["rows"] == len(dataset)
    for name in ("x1", "x2", "y"):
        series = dataset[name]
        stats = columns[name]["numeric"]
        assert columns[name]["distinct"] == series.nunique()
        assert columns[name]["nulls"] == 0
        assert stats["mean"] == pytest.approx(series.mean())
        assert stats["std"] == pytest.approx(series.std())
        counts, edges = np.histogram(series, bins=10)
        assert stats["histogram"]["counts"] == counts.tolist()
        assert stats["histogram"]["edges"] == pytest.approx(edges.tolist())
    assert columns["label"]["type"] == "string" and columns["label"]["distinct"] == 2

    again = await client.post(
        f"{API}/open-lab/profile", headers=user, json={"dataset": "known", "version": 1}
    )
    assert again.json()["cached"] is True and again.json()["result"] == result


async def test_baseline_matches_sklearn(client, user, dataset):
    for target, estimator, splitter, scoring, metrics in [
        (
            "label",
            LogisticRegression(max_iter=1000),
            StratifiedKFold(5, shuffle=True, random_state=0),
            ["accuracy", "f1_macro"],
            ["accuracy", "f1_macro"],
        ),
        (
            "y",
            Ridge(alpha=1.0),
            KFold(5, shuffle=True, random_state=0),
            ["r2", "neg_root_mean_squared_error"],
            ["r2", "rmse"],
        ),
    ]:
        started = await client.post(
            f"{API}/open-lab/baseline",
            headers=user,
            json={"dataset": "known", "version": 1, "target": target},
        )
        done = await wait_done(client, user, started.json())
        assert done["status"] == "succeeded", done
        features = [c for c in ("x1", "x2", "y") if c != target]
        expected = cross_validate(
            make_pipeline(StandardScaler(), estimator),
            dataset[features].to_numpy(),
            dataset[target].to_numpy(),
            cv=splitter,
            scoring=scoring,
        )
        for metric, key in zip(metrics, scoring, strict=True):
            want = np.abs(expected[f"test_{key}"])
            assert done["result"]["metrics"][metric]["folds"] == pytest.approx(want.tolist())
        assert done["result"]["features"] == features

    missing = await client.post(
        f"{API}/open-lab/baseline",
        headers=user,
        json={"dataset": "known", "version": 1, "target": "nope"},
    )
    assert missing.status_code == 422


async def test_compare_registered_versions(client, user):
    name = "cmp-model"
    assert (
        await client.post(f"{API}/models", json={"name": name}, headers=user)
    ).status_code == 201
    for accuracy in (0.7, 0.8):
        await client.post(
            f"{API}/models/{name}/versions",
            headers=user,
            json={"artifact_digest": "sha256:" + "c" * 64, "metrics": {"accuracy": accuracy}},
        )
    compared = await client.post(f"{API}/open-lab/compare", headers=user, json={"model": name})
    assert compared.json()["metrics"] == {"accuracy": {"1": 0.7, "2": 0.8}}
