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
