"""Small LightGBM / XGBoost / CatBoost models for tests: a few hundred rows, a few trees.

Each dataset has three numeric columns (x1 with NaN) and a categorical column ``c`` (pandas
``category`` dtype for LightGBM and XGBoost, strings for CatBoost, as each library takes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LIBS = ("lightgbm", "xgboost", "catboost")
TASKS = ("regression", "binary", "multiclass")
LEVELS = ["red", "green", "blue", "grey"]


def make_data(lib: str, task: str, n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features x0, x1 (NaN in every 11th row), x2 and c; the target of ``task``."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    x1 = rng.uniform(-2, 2, size=n)
    x2 = rng.normal(size=n)
    c = rng.choice(LEVELS, size=n)
    score = 1.5 * x0 + np.sin(2 * x1) + 0.8 * (c == "red") - 0.6 * (c == "blue") + 0.3 * rng.normal(size=n)
    x1[::11] = np.nan
    X = pd.DataFrame({"x0": x0, "x1": x1, "x2": x2, "c": c})
    X["c"] = X["c"].astype(str) if lib == "catboost" else pd.Categorical(X["c"], categories=LEVELS)
    if task == "regression":
        y: np.ndarray = score
    elif task == "binary":
        y = (score > 0).astype(int)
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(int)
    return X, y


def make_model(lib: str, task: str, **params: Any) -> Any:
    """An unfitted model of ``lib`` for ``task`` (few, shallow trees; one thread)."""
    if lib == "lightgbm":
        import lightgbm as lgb

        cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
        base = dict(n_estimators=6, num_leaves=7, min_child_samples=5, verbose=-1, n_jobs=1, random_state=0)
    elif lib == "xgboost":
        import xgboost as xgb

        cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
        base = dict(n_estimators=6, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1)
    else:
        import catboost as cb

        cls = cb.CatBoostRegressor if task == "regression" else cb.CatBoostClassifier
        base = dict(
            iterations=6, depth=3, verbose=0, cat_features=["c"], thread_count=1, allow_writing_files=False
        )
    return cls(**{**base, **params})


def make_pipeline(lib: str, task: str, **params: Any) -> Any:
    """An unfitted Pipeline: the numeric columns scaled, ``c`` passed through by name to the model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pre = ColumnTransformer(
        [("num", StandardScaler(), ["x0", "x1", "x2"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([("pre", pre), ("gbm", make_model(lib, task, **params))])


def fit(lib: str, task: str, n: int = 240, **params: Any) -> tuple[Any, pd.DataFrame, np.ndarray]:
    X, y = make_data(lib, task, n=n)
    return make_model(lib, task, **params).fit(X, y), X, y


def save_native(model: Any, lib: str, path: str) -> None:
    """The library's own file: LightGBM model text, XGBoost JSON/UBJ (by suffix), CatBoost cbm."""
    if lib == "lightgbm":
        model.booster_.save_model(path)
    else:
        model.save_model(path)


def outputs(model, X: pd.DataFrame) -> np.ndarray:
    """(n, k) float64: the regression, the positive class's or each class's probability."""
    if not hasattr(model, "predict_proba"):
        return np.asarray(model.predict(X), dtype=np.float64)[:, None]
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    return proba[:, 1:] if proba.shape[1] == 2 else proba


def ale_by_definition(model, X: pd.DataFrame, feature: str, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """Numeric ALE (k, G) from its definition: rows with x in (z[b-1], z[b]] (the first bin closed)
    moved to both edges, the mean difference per bin accumulated, centred on the bin midpoints
    weighted by count; NaN rows left out."""
    x = X[feature].to_numpy(dtype=np.float64)
    rows = X[~np.isnan(x)]
    codes = np.maximum(np.searchsorted(edges, x[~np.isnan(x)], side="left"), 1)
    diffs = outputs(model, rows.assign(**{feature: edges[codes]})) - outputs(
        model, rows.assign(**{feature: edges[codes - 1]})
    )
    counts = np.bincount(codes - 1, minlength=len(edges) - 1)
    local = np.array([diffs[codes == b].mean(axis=0) for b in range(1, len(edges))])
    ale = np.vstack([np.zeros((1, local.shape[1])), np.cumsum(local, axis=0)]).T
    mids = (ale[:, :-1] + ale[:, 1:]) / 2
    return ale - ((mids * counts).sum(axis=1) / counts.sum())[:, None], counts
