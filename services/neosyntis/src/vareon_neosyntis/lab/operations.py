"""Open-lab operations: predefined, bounded computations on a dataset (never user code).

Baseline models (scikit-learn) use the numeric and boolean columns as features (median
imputation, standard scaling). The target is categorical when its type is string or boolean,
or integer with at most ``MAX_CLASSES`` distinct values: then logistic regression
(lbfgs, max_iter 1000) scored by accuracy and macro F1 over stratified folds; otherwise
ridge regression (alpha 1.0) scored by R² and RMSE over plain folds. Folds are shuffled with
a fixed seed, so the same request gives the same numbers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where an operation runs (a reader process, the worker), not
    import pandas as pd  # by every module that names this one (the API's idle memory)
    import pyarrow as pa

MAX_CLASSES = 20
HISTOGRAM_BINS = 10
SEED = 0
NUMERIC_TYPES = {"integer", "float", "boolean"}
PARQUET_BATCH_ROWS = 128
Progress = Callable[[float], None]


def spool(chunks: Iterable[bytes]) -> IO[bytes]:
    """The stored object in a local temp file (removed when closed)."""
    f = tempfile.TemporaryFile()
    for chunk in chunks:
        f.write(chunk)
    f.seek(0)
    return f


class BudgetExceeded(ValueError):
    """The rows asked for need more memory than the reader's byte budget."""


def load_frame(
    f: IO[bytes],
    fmt: str,
    columns: list[dict[str, Any]],
    max_rows: int,
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """The first ``max_rows`` rows, typed as the dataset's inferred schema says.

    ``max_bytes`` bounds the decoded rows in memory: Parquet is read in small batches so a
    bomb (a few KB on disk, GB decoded) stops at the budget rather than after it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "csv":
        arrow_types = {
            "integer": pa.int64(),
            "float": pa.float64(),
            "boolean": pa.bool_(),
            "timestamp": pa.timestamp("us"),
            "string": pa.string(),
        }
        reader = pacsv.open_csv(
            f,
            convert_options=pacsv.ConvertOptions(
                column_types={c["name"]: arrow_types.get(c["type"], pa.string()) for c in columns},
                strings_can_be_null=True,
                true_values=["true", "True", "TRUE"],
                false_values=["false", "False", "FALSE"],
            ),
        )
        return _first_rows(reader, max_rows, max_bytes)
    if fmt == "parquet":
        batches = pq.ParquetFile(f).iter_batches(batch_size=min(max_rows, PARQUET_BATCH_ROWS))
        return _first_rows(batches, max_rows, max_bytes)
    frame = pd.read_json(f, lines=True, nrows=max_rows, dtype=False)
    if max_bytes is not None and frame.memory_usage(deep=True).sum() > max_bytes:
        raise _over(max_bytes)
    return frame.reindex(columns=[c["name"] for c in columns])


def _over(max_bytes: int) -> BudgetExceeded:
    return BudgetExceeded(
        f"the rows asked for need more than the read budget of {max_bytes} bytes in memory"
    )


def _first_rows(
    batches: Iterable[pa.RecordBatch], max_rows: int, max_bytes: int | None = None
) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    taken: list[pa.RecordBatch] = []
    count = size = 0
    for batch in batches:
        taken.append(batch.slice(0, max_rows - count))
        count += taken[-1].num_rows
        size += taken[-1].get_total_buffer_size()
        if max_bytes is not None and size > max_bytes:
            raise _over(max_bytes)
        if count >= max_rows:
            break
    return pa.Table.from_batches(taken).to_pandas() if taken else pd.DataFrame()


def preview(frame: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    return json.loads(frame.head(limit).to_json(orient="records", date_format="iso"))


def _number(value: Any) -> float | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else float(value)


def profile(frame: pd.DataFrame, columns: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    profiled = []
    for column in columns:
        name, kind = column["name"], column["type"]
        series = frame[name] if name in frame else pd.Series(dtype=object)
        entry: dict[str, Any] = {
            "name": name,
            "type": kind,
            "nulls": int(series.isna().sum()),
            "distinct": int(series.nunique(dropna=True)),
        }
        if kind in {"integer", "float"}:
            values = series.dropna().astype(float)
            entry["numeric"] = None
            if len(values):
                counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
                entry["numeric"] = {
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "mean": float(values.mean()),
                    "std": _number(values.std()),
                    "histogram": {
                        "edges": [float(e) for e in edges],
                        "counts": [int(c) for c in counts],
                    },
                }
        profiled.append(entry)
    return {"rows": len(frame), "columns": profiled}


def is_categorical(kind: str, target: pd.Series) -> bool:
    if kind in {"string", "boolean"}:
        return True
    return kind == "integer" and target.nunique(dropna=True) <= MAX_CLASSES


class BaselineError(ValueError):
    pass


def baseline(
    frame: pd.DataFrame,
    columns: list[dict[str, Any]],
    target: str,
    folds: int,
    progress: Progress = lambda _: None,
) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kinds = {c["name"]: c["type"] for c in columns}
    features = [n for n, k in kinds.items() if k in NUMERIC_TYPES and n != target]
    if not features:
        raise BaselineError("no numeric or boolean feature columns besides the target")
    data = frame[frame[target].notna()]
    x = data[features].astype(float).to_numpy()
    categorical = is_categorical(kinds[target], data[target])
    if categorical:
        y = data[target].astype(str).to_numpy()
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
        if min(pd.Series(y).value_counts()) < folds:
            raise BaselineError(f"every class needs at least {folds} rows for {folds} folds")
    else:
        y = data[target].astype(float).to_numpy()
        splitter = KFold(n_splits=folds, shuffle=True, random_state=SEED)
    if len(y) < folds:
        raise BaselineError(f"{len(y)} rows are too few for {folds} folds")
    scores: dict[str, list[float]] = {}
    for i, (train, test) in enumerate(splitter.split(x, y)):
        estimator = LogisticRegression(max_iter=1000) if categorical else Ridge(alpha=1.0)
        pipeline = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), estimator)
        pipeline.fit(x[train], y[train])
        predicted = pipeline.predict(x[test])
        if categorical:
            fold = {
                "accuracy": accuracy_score(y[test], predicted),
                "f1_macro": f1_score(y[test], predicted, average="macro"),
            }
        else:
            fold = {
                "r2": r2_score(y[test], predicted),
                "rmse": float(np.sqrt(mean_squared_error(y[test], predicted))),
            }
        for metric, value in fold.items():
            scores.setdefault(metric, []).append(float(value))
        progress((i + 1) / folds)
    return {
        "task": "classification" if categorical else "regression",
        "model": "logistic_regression" if categorical else "ridge",
        "target": target,
        "features": features,
        "folds": folds,
        "rows": len(y),
        "metrics": {
            m: {"mean": float(np.mean(v)), "std": float(np.std(v)), "folds": v}
            for m, v in scores.items()
        },
    }
