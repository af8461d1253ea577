"""A fitted linear model taken apart: the steps before it, its coefficient rows per target, the
names and the standard deviations of the features as the steps feed them to it.

Linear models are found bare, at the end of a (nested) pipeline, or inside a
TransformedTargetRegressor (whose coefficients are in the transformed target's units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from inspectcli.engines.response import binary_class, match_label
from inspectcli.errors import UsageError
from inspectcli.introspect import default_feature_names, task_of

NO_COEF_HINT = (
    "coefficients exist only for linear models (LinearRegression, Ridge, Lasso, ElasticNet, "
    "LogisticRegression, …); for any model use `inspect importance` or `inspect pdp`"
)


@dataclass
class LinearParts:
    """A fitted model taken apart: the transformers before the linear model, and the model."""

    stages: list[Any]  # fitted transformers (pipeline slices) applied in order before `linear`
    linear: Any  # the estimator that holds coef_
    target_transform: str | None = None  # TransformedTargetRegressor's func, described

    def transform(self, X: Any) -> Any:
        for stage in self.stages:
            X = stage.transform(X)
        return X


def describe_func(ttr: Any) -> str:
    func = getattr(ttr, "func", None)
    if func is not None:
        name = getattr(func, "__name__", None) or type(func).__name__
        module = getattr(func, "__module__", None)
        return f"{module}.{name}" if module in ("numpy", "scipy.special") else name
    transformer = getattr(ttr, "transformer_", None)
    return type(transformer).__name__ if transformer is not None else "identity"


def linear_parts(estimator: Any) -> LinearParts:
    """Find the linear model (the estimator with ``coef_``) and the steps before it.

    Raises
    ------
    UsageError
        When the model has no coefficients.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    stages: list[Any] = []
    ttr = None
    est = estimator
    while True:
        if isinstance(est, Pipeline):
            if len(est.steps) > 1:
                stages.append(est[:-1])
            est = est.steps[-1][1]
            continue
        if isinstance(est, TransformedTargetRegressor):
            inner = getattr(est, "regressor_", None)
            if inner is None:
                break
            ttr = describe_func(est)
            est = inner
            continue
        break
    coef = getattr(est, "coef_", None)
    if coef is None or isinstance(est, str):
        name = type(est).__name__ if not isinstance(est, str) else repr(est)
        where = "" if est is estimator else f" (the model's final step is {name})"
        raise UsageError(f"{type(estimator).__name__} has no coefficients{where}", NO_COEF_HINT)
    return LinearParts(stages, est, ttr)


def coef_matrix(linear: Any) -> np.ndarray:
    coef = linear.coef_
    if sparse.issparse(coef):
        coef = coef.toarray()
    return np.atleast_2d(np.asarray(coef, dtype=float))


def intercepts(linear: Any, n: int) -> np.ndarray:
    icpt = getattr(linear, "intercept_", 0.0)
    arr = np.atleast_1d(np.asarray(icpt, dtype=float)).ravel()
    if arr.size == 1 and n > 1:
        arr = np.repeat(arr, n)
    return arr


@dataclass(frozen=True)
class TargetRows:
    """Which rows of coef_ give which target, and with which sign."""

    targets: tuple[Any, ...]
    labels: tuple[Any, ...]  # class label each row is looked up by (None for regressors)
    signs: tuple[float, ...]


def target_rows(estimator: Any, linear: Any, coef: np.ndarray, classes: Sequence[str] | None) -> TargetRows:
    """One row per class (binary: the positive class; ``classes`` picks), or per output.

    A binary model's single row of coefficients is that of ``classes_[1]``; asking for
    ``classes_[0]`` negates it (its log-odds are the negated ones), as for partial dependence.
    """
    task = task_of(estimator)
    if task.is_classifier and task.classes is not None:
        labels = list(task.classes)
        wanted = [match_label(c, labels) for c in classes] if classes else None
        if coef.shape[0] == 1 and len(labels) == 2:
            label = binary_class(labels, wanted, "coefficients")
            sign = -1.0 if label == labels[0] else 1.0
            return TargetRows((label,), (label,), (sign,))
        keep = list(dict.fromkeys(wanted)) if wanted else labels
        return TargetRows(tuple(keep), tuple(keep), tuple(1.0 for _ in keep))
    if classes:
        raise UsageError("`classes` applies to classifiers; this model is a regressor", "drop `classes`")
    if np.ndim(linear.coef_) == 1:
        return TargetRows((None,), (None,), (1.0,))
    return TargetRows(tuple(range(coef.shape[0])), tuple(range(coef.shape[0])), (1.0,) * coef.shape[0])


def select_rows(linear: Any, rows: TargetRows) -> tuple[np.ndarray, np.ndarray]:
    """(coef (k, p), intercept (k,)) of the targets in ``rows``; NaN for a class the model lacks."""
    coef = coef_matrix(linear)
    icpt = intercepts(linear, coef.shape[0])
    out = np.full((len(rows.targets), coef.shape[1]), np.nan)
    out_i = np.full(len(rows.targets), np.nan)
    model_classes = getattr(linear, "classes_", None)
    for t, (label, sign) in enumerate(zip(rows.labels, rows.signs)):
        if label is None:
            r = 0
        elif model_classes is not None and coef.shape[0] == 1 and len(model_classes) == 2:
            r = 0  # binary: the one row is the positive class; the sign says which we want
        elif model_classes is not None:
            found = [i for i, c in enumerate(np.asarray(model_classes).tolist()) if c == label]
            if not found:
                continue
            r = found[0]
        else:
            r = int(label)
        out[t] = sign * coef[r]
        out_i[t] = sign * icpt[r]
    return out, out_i


def names_out(parts: LinearParts, input_names: list[str], width: int) -> list[str]:
    names = list(input_names)
    for stage in parts.stages:
        try:
            names = [str(n) for n in stage.get_feature_names_out(names)]
        except Exception:
            try:
                names = [str(n) for n in stage.get_feature_names_out()]
            except Exception:
                names = default_feature_names(width)
                break
    if len(names) != width:
        names = default_feature_names(width)
    return names


def as_matrix(Z: Any) -> Any:
    if sparse.issparse(Z):
        return sparse.csr_matrix(Z, dtype=float)
    if isinstance(Z, pd.DataFrame):
        return Z.to_numpy(dtype=float)
    return np.asarray(Z, dtype=float)


def column_std(Z: Any, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Standard deviation of each column, ``ddof=1`` (as pandas' ``.std()``); sparse or dense.

    With weights: the unbiased estimate for reliability weights,
    ``Σw(x − m)² / (Σw − Σw²/Σw)``, which is ``ddof=1`` when every weight is 1.
    """
    Z = as_matrix(Z)
    n = Z.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    sw = w.sum()
    denom = sw - (w @ w) / sw
    if denom <= 0:
        return np.full(Z.shape[1], np.nan)
    if sparse.issparse(Z):
        mean = np.asarray(Z.T @ w).ravel() / sw
        sq = np.asarray(Z.multiply(Z).T @ w).ravel() / sw
        var = np.maximum(sq - mean**2, 0.0) * sw / denom
    else:
        with np.errstate(invalid="ignore"):
            mean = (w @ Z) / sw
            var = (w @ (Z - mean) ** 2) / denom
    return np.sqrt(var)


def is_binary(Z: Any, j: int) -> bool:
    col = Z[:, [j]].toarray().ravel() if sparse.issparse(Z) else Z[:, j]
    return bool(np.all((col == 0) | (col == 1)))
