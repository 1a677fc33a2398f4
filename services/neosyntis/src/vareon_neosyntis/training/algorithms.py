"""The catalogue of trainable scikit-learn estimators, their hyperparameters and training
in steps (so a worker can heartbeat, meter and stop between them). Plain domain code.

Features are the numeric and boolean columns other than the target (median imputation,
standard scaling). The held-out split is ``train_test_split(test_size, random_state=seed)``,
stratified for classification. Ensembles grow ``TREES_PER_STEP`` trees per step
(``warm_start``); other estimators train in one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # numpy and pandas load in the training worker only, when it trains
    import numpy as np
    import pandas as pd

NUMERIC_TYPES = {"integer", "float", "boolean"}
CATEGORICAL_TYPES = {"string", "boolean", "integer"}
TREES_PER_STEP = 10
Task = Literal["classification", "regression"]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogisticRegressionParams(Params):
    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=1000, ge=1, le=100_000)


class RidgeParams(Params):
    alpha: float = Field(default=1.0, ge=0)


class ForestParams(Params):
    n_estimators: int = Field(default=100, ge=1, le=5000)
    max_depth: int | None = Field(default=None, ge=1, le=100)
    min_samples_leaf: int = Field(default=1, ge=1)
    random_state: int = 0


class BoostingParams(Params):
    n_estimators: int = Field(default=100, ge=1, le=5000)
    learning_rate: float = Field(default=0.1, gt=0, le=10)
    max_depth: int = Field(default=3, ge=1, le=32)
    random_state: int = 0


@dataclass(frozen=True)
class Algorithm:
    name: str
    task: Task
    params: type[Params]
    estimator: str
    """Dotted path of the scikit-learn class."""
    stepwise: bool = False

    def build(self, params: Params) -> Any:
        import importlib

        module, _, cls = self.estimator.rpartition(".")
        kwargs = params.model_dump()
        if self.stepwise:
            kwargs["warm_start"] = True
        return getattr(importlib.import_module(module), cls)(**kwargs)

    def steps(self, params: Params) -> int:
        if not self.stepwise:
            return 1
        return math.ceil(params.n_estimators / TREES_PER_STEP)  # type: ignore[attr-defined]


CATALOGUE: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "logistic_regression",
            "classification",
            LogisticRegressionParams,
            "sklearn.linear_model.LogisticRegression",
        ),
        Algorithm("ridge", "regression", RidgeParams, "sklearn.linear_model.Ridge"),
        Algorithm(
            "random_forest_classifier",
            "classification",
            ForestParams,
            "sklearn.ensemble.RandomForestClassifier",
            stepwise=True,
        ),
        Algorithm(
            "random_forest_regressor",
            "regression",
            ForestParams,
            "sklearn.ensemble.RandomForestRegressor",
            stepwise=True,
        ),
        Algorithm(
            "gradient_boosting_classifier",
            "classification",
            BoostingParams,
            "sklearn.ensemble.GradientBoostingClassifier",
            stepwise=True,
        ),
        Algorithm(
            "gradient_boosting_regressor",
            "regression",
            BoostingParams,
            "sklearn.ensemble.GradientBoostingRegressor",
            stepwise=True,
        ),
    )
}


class TrainingError(ValueError):
    """The data cannot be trained on as asked (a job failure, not a bug)."""


def features_of(columns: list[dict[str, Any]], target: str) -> list[str]:
    return [c["name"] for c in columns if c["type"] in NUMERIC_TYPES and c["name"] != target]


def check_target(algorithm: Algorithm, columns: list[dict[str, Any]], target: str) -> None:
    kinds = {c["name"]: c["type"] for c in columns}
    if target not in kinds:
        raise TrainingError(f"the dataset has no column {target!r}")
    if algorithm.task == "regression" and kinds[target] not in {"integer", "float"}:
        raise TrainingError(
            f"{algorithm.name} needs a numeric target; {target!r} is {kinds[target]}"
        )
    if algorithm.task == "classification" and kinds[target] not in CATEGORICAL_TYPES:
        raise TrainingError(
            f"{algorithm.name} needs a categorical target; {target!r} is {kinds[target]}"
        )
    if not features_of(columns, target):
        raise TrainingError("no numeric or boolean feature columns besides the target")


@dataclass
class Split:
    features: list[str]
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def split(
    frame: pd.DataFrame,
    columns: list[dict[str, Any]],
    target: str,
    task: Task,
    test_fraction: float,
    seed: int,
) -> Split:
    from sklearn.model_selection import train_test_split

    features = features_of(columns, target)
    data = frame[frame[target].notna()]
    x = data[features].astype(float).to_numpy()
    y = data[target].astype(str if task == "classification" else float).to_numpy()
    try:
        parts = train_test_split(
            x,
            y,
            test_size=test_fraction,
            random_state=seed,
            stratify=y if task == "classification" else None,
        )
    except ValueError as exc:
        raise TrainingError(f"cannot split the dataset: {exc}") from None
    return Split(features, *parts)


def metrics(task: Task, y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score

    if task == "classification":
        return {
            "accuracy": float(accuracy_score(y_true, predicted)),
            "f1_macro": float(f1_score(y_true, predicted, average="macro")),
        }
    return {
        "r2": float(r2_score(y_true, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, predicted))),
    }


@dataclass
class Trainer:
    """Fits the preprocessing once, then the estimator one step at a time."""

    algorithm: Algorithm
    params: Params
    data: Split
    estimator: Any = None
    preprocess: Any = None
    _x: Any = field(default=None, repr=False)

    @property
    def steps(self) -> int:
        return self.algorithm.steps(self.params)

    def step(self, index: int) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.preprocess is None:
            self.preprocess = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
            self._x = self.preprocess.fit_transform(self.data.x_train)
            self.estimator = self.algorithm.build(self.params)
        if self.algorithm.stepwise:
            total = self.params.n_estimators  # type: ignore[attr-defined]
            self.estimator.set_params(n_estimators=min(total, (index + 1) * TREES_PER_STEP))
        self.estimator.fit(self._x, self.data.y_train)

    def pipeline(self) -> Any:
        from sklearn.pipeline import Pipeline

        return Pipeline([*self.preprocess.steps, ("model", self.estimator)])

    def evaluate(self) -> dict[str, float]:
        predicted = self.pipeline().predict(self.data.x_test)
        return metrics(self.algorithm.task, self.data.y_test, predicted)
