"""Coefficients of linear models, read as scikit-learn's example "Common pitfalls in the
interpretation of coefficients of linear models" teaches.

- A coefficient is a change of the output per *unit* of its feature, as the model receives it
  (after the pipeline's scaling and encoding), so raw coefficients are ranked by units as much as
  by effect. Multiplying each by the standard deviation of its feature as the pipeline feeds it to
  the model (``X`` transformed by every step before the linear model; ``ddof=1``, as the example's
  pandas ``.std()``) puts them on one scale: the change of the output for a one-standard-deviation
  change of the feature. A one-hot column's standard deviation is that of a 0/1 indicator,
  ``√(p(1 − p))`` up to ``ddof``, which the result marks.
- Coefficients of correlated features are unstable: refitting on other rows can move weight from
  one to the other, even flip signs. ``cv`` refits clones of the whole model on the training folds
  of ``RepeatedKFold`` (seeded) and keeps every fold's coefficients; a coefficient whose sign
  differs between folds, or whose standard deviation over folds exceeds the size of its mean, is
  flagged.

Linear models are found bare, at the end of a (nested) pipeline, or inside a
TransformedTargetRegressor (whose coefficients are in the transformed target's units).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from inspectcli.engines.execution import Execution
from inspectcli.engines.frames import check_sample_weight, feature_names_of
from inspectcli.engines.grid import is_categorical_dtype
from inspectcli.engines.impurity import input_sources
from inspectcli.engines.linear import (
    TargetRows,
    as_matrix,
    coef_matrix,
    column_std,
    is_binary,
    linear_parts,
    names_out,
    select_rows,
    target_rows,
)
from inspectcli.errors import ComputationError, InspectError, UsageError, first_line
from inspectcli.introspect import categorical_inputs, task_of

SMALL_FIT_CELLS = 2_000_000  # rows × columns below which refits use one BLAS thread


@dataclass
class CVCoefficients:
    """Coefficients of models refitted on the training folds of RepeatedKFold."""

    n_splits: int
    n_repeats: int
    random_state: int | None
    coef: np.ndarray  # (n_fits, n_targets, n_features); NaN where a fold lacks the feature
    feature_std: np.ndarray  # (n_fits, n_features): std of each fold's training rows as fed to the model
    convergence_warnings: int = 0

    @cached_property
    def scaled(self) -> np.ndarray:
        """(n_fits, n_targets, n_features): each fit's coefficients × its own feature std."""
        return self.coef * self.feature_std[:, None, :]

    @property
    def n_fits(self) -> int:
        return int(self.coef.shape[0])

    @cached_property
    def mean(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.scaled, axis=0)

    @cached_property
    def std(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanstd(self.scaled, axis=0)

    @cached_property
    def sign_flips(self) -> np.ndarray:
        """(n_targets, n_features): positive in some folds and negative in others."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return (np.nanmin(self.coef, axis=0) < 0) & (np.nanmax(self.coef, axis=0) > 0)

    @cached_property
    def unstable(self) -> np.ndarray:
        """(n_targets, n_features): the spread over folds exceeds the size of the mean."""
        return self.std > np.abs(self.mean)


@dataclass
class Coefficients:
    """The coefficients of a linear model, per target, on a common scale."""

    estimator: str  # class of the linear model
    features: list[str]  # transformed feature names (get_feature_names_out)
    sources: list[list[str]]  # input columns each transformed feature comes from
    one_hot: list[bool]
    feature_std: np.ndarray  # (n_features,)
    targets: tuple[Any, ...]
    coef: np.ndarray  # (n_targets, n_features)
    intercept: np.ndarray  # (n_targets,)
    is_classifier: bool
    target_transform: str | None = None
    cv: CVCoefficients | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def scaled(self) -> np.ndarray:
        """coef × feature std: the output's change for a one-std change of the feature."""
        return self.coef * self.feature_std[None, :]

    def source(self, j: int) -> str | None:
        src = self.sources[j]
        return src[0] if len(src) == 1 else None

    @property
    def standardized(self) -> bool:
        """Every feature reaches the model with a standard deviation of about 1."""
        std = self.feature_std
        return bool(np.all(np.isfinite(std)) and np.allclose(std, 1.0, rtol=0.02, atol=0))


def coefficients(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    feature_names: Sequence[str] | None = None,
    sample_weight: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    cv: int | None = None,
    n_repeats: int = 5,
    random_state: int | None = 0,
    execution: Execution | None = None,
) -> Coefficients:
    """Coefficients of a fitted linear model, scaled by the std of their features.

    Parameters
    ----------
    estimator : fitted linear model, pipeline ending in one, or TransformedTargetRegressor
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Data as the model takes it; the feature std is measured on it after the steps before
        the linear model.
    y : array-like of shape (n_samples,), optional
        The target; needed with ``cv``.
    feature_names : names of ndarray columns (default: X's columns, or x0, x1, …)
    sample_weight : ndarray of shape (n_samples,), optional
        Weights for the feature std and for the refits (routed to the linear model's ``fit``).
    classes : class labels (as text) to keep; default every class (binary: the positive one)
    cv : int, optional
        Refit clones on ``RepeatedKFold(n_splits=cv, n_repeats=n_repeats,
        random_state=random_state)`` and keep each fit's coefficients.
    execution : Execution, default=Execution()
        Where the refits run (workers, backend, Dask scheduler) and their progress.

    Returns
    -------
    Coefficients
    """
    parts = linear_parts(estimator)
    names = feature_names_of(X, feature_names)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    coef_all = coef_matrix(parts.linear)
    rows = target_rows(estimator, parts.linear, coef_all, classes)
    coef, intercept = select_rows(parts.linear, rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            Z = as_matrix(parts.transform(X))
    except Exception as exc:
        raise ComputationError(
            f"the model's preprocessing failed on the data: {type(exc).__name__}: {exc}",
            "check that the data matches what the model was trained on",
        ) from exc
    if Z.shape[1] != coef.shape[1]:
        raise ComputationError(
            f"the steps before {type(parts.linear).__name__} give {Z.shape[1]} columns but it has "
            f"{coef.shape[1]} coefficients"
        )
    out_names = names_out(parts, names, Z.shape[1])
    std = column_std(Z, sample_weight)
    if parts.stages:
        sources = [sorted(s) for s in input_sources(parts.transform, X, names, out_names)]
    else:
        sources = [[n] for n in names]
    cat_inputs = categorical_inputs(estimator)
    if hasattr(X, "columns"):
        cat_inputs |= {str(c) for c in X.columns if is_categorical_dtype(X[c])}
    one_hot = [
        bool(parts.stages) and len(src) == 1 and src[0] in cat_inputs and is_binary(Z, j)
        for j, src in enumerate(sources)
    ]
    task = task_of(estimator)
    result = Coefficients(
        estimator=type(parts.linear).__name__,
        features=out_names,
        sources=sources,
        one_hot=one_hot,
        feature_std=std,
        targets=rows.targets,
        coef=coef,
        intercept=intercept,
        is_classifier=task.is_classifier,
        target_transform=parts.target_transform,
    )
    result.notes.extend(_notes(result))
    if cv is not None:
        if y is None:
            raise UsageError("cross-validated coefficients need the target", "give `target`")
        result.cv = cross_validated(
            estimator,
            X,
            y,
            out_names,
            rows,
            input_names=names,
            n_splits=cv,
            n_repeats=n_repeats,
            random_state=random_state,
            sample_weight=sample_weight,
            execution=execution,
        )
        result.notes.extend(_cv_notes(result))
    return result


def _notes(res: Coefficients) -> list[str]:
    notes = []
    if res.is_classifier:
        notes.append(
            "coefficients are changes of the log-odds (decision function) per unit of each feature "
            "as the model receives it; scaled ones per standard deviation"
        )
    if res.target_transform is not None:
        notes.append(
            f"the model is a TransformedTargetRegressor: coefficients are in units of the transformed "
            f"target ({res.target_transform}(y)), not of y"
        )
    if res.standardized:
        notes.append("features reach the model standardized (std ≈ 1): raw and scaled coefficients agree")
    if any(res.one_hot):
        notes.append(
            f"{sum(res.one_hot)} one-hot column(s): each is scaled by the std of its 0/1 indicator, "
            "√(p(1−p)), so rare levels get small scaled coefficients; compare them with each other "
            "with care"
        )
    mixed = [f for f, s in zip(res.features, res.sources) if len(s) > 1]
    if mixed:
        notes.append(
            f"{len(mixed)} transformed feature(s) mix several input columns (e.g. {mixed[0]}); "
            "their coefficient belongs to no single input"
        )
    zero = np.isfinite(res.feature_std) & (res.feature_std == 0)
    if zero.any():
        notes.append(
            f"{int(zero.sum())} feature(s) are constant in this data (std 0), e.g. "
            f"{res.features[int(np.flatnonzero(zero)[0])]}: their scaled coefficient is 0"
        )
    return notes


def _cv_notes(res: Coefficients) -> list[str]:
    cvr = res.cv
    assert cvr is not None
    notes = []
    flagged = cvr.sign_flips | cvr.unstable
    if flagged.any():
        names = [res.features[j] for j in np.flatnonzero(flagged.any(axis=0))]
        shown = ", ".join(names[:5]) + (f", … (+{len(names) - 5} more)" if len(names) > 5 else "")
        notes.append(
            f"{len(names)} coefficient(s) change sign across the {cvr.n_fits} refits or vary more than "
            f"their size: {shown}. Correlated features share weight unpredictably; do not read these "
            "coefficients one by one"
        )
    if cvr.convergence_warnings:
        notes.append(f"{cvr.convergence_warnings} of the {cvr.n_fits} refits did not converge")
    if np.isnan(cvr.coef).any():
        notes.append(
            "some refits lack some transformed features (e.g. a category absent from a fold); "
            "those folds are left out of those features' spread"
        )
    return notes


def _fit_params(estimator: Any, sample_weight: np.ndarray) -> dict[str, Any]:
    """Route sample_weight to the last step of a (nested) pipeline, or to the estimator."""
    from sklearn.pipeline import Pipeline

    prefix = ""
    est = estimator
    while isinstance(est, Pipeline):
        name, est = est.steps[-1]
        prefix += f"{name}__"
    return {f"{prefix}sample_weight": sample_weight}


def _fit_fold(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: np.ndarray | None,
    out_names: list[str],
    input_names: list[str],
    rows: TargetRows,
    train: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Refit a clone on the ``train`` rows: its coefficients (k, p), feature std (p,), warnings."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    Xt = X.iloc[train] if hasattr(X, "iloc") else np.asarray(X)[train]
    yt = y.iloc[train] if hasattr(y, "iloc") else np.asarray(y)[train]
    wt = None if sample_weight is None else sample_weight[train]
    model = clone(estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        if wt is None:
            model.fit(Xt, yt)
        else:
            model.fit(Xt, yt, **_fit_params(model, wt))
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    parts = linear_parts(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Z = as_matrix(parts.transform(Xt))
    coef, _ = select_rows(parts.linear, rows)
    names = names_out(parts, input_names, Z.shape[1])
    std = column_std(Z, wt)
    pos = {n: i for i, n in enumerate(names)}
    out = np.full((len(rows.targets), len(out_names)), np.nan)
    out_std = np.full(len(out_names), np.nan)
    for j, name in enumerate(out_names):
        i = pos.get(name)
        if i is not None and i < coef.shape[1]:
            out[:, j] = coef[:, i]
            out_std[j] = std[i]
    return out, out_std, n_warn


def cross_validated(
    estimator: Any,
    X: Any,
    y: Any,
    out_names: list[str],
    rows: TargetRows,
    *,
    input_names: list[str] | None = None,
    n_splits: int,
    n_repeats: int = 5,
    random_state: int | None = 0,
    sample_weight: np.ndarray | None = None,
    execution: Execution | None = None,
) -> CVCoefficients:
    """Refit clones of the model on each training fold of RepeatedKFold; coefficients per fit.

    The same folds as ``cross_validate(model, X, y, cv=RepeatedKFold(n_splits, n_repeats,
    random_state), return_estimator=True)``, fits in fold order. ``input_names``: X's column
    names (default: its own, or x0, x1, …), as the coefficients' feature names were made from.
    """
    from sklearn.model_selection import RepeatedKFold

    if n_splits < 2:
        raise UsageError(f"`cv={n_splits}` must be at least 2")
    if n_repeats < 1:
        raise UsageError(f"`n_repeats={n_repeats}` must be at least 1")
    n = X.shape[0]
    if n_splits > n:
        raise UsageError(f"`cv={n_splits}` is more folds than the data's {n} rows", "use fewer folds")
    execution = execution or Execution()
    execution.check()
    input_names = feature_names_of(X, input_names)
    splitter = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)
    tasks = [(train,) for train, _ in splitter.split(np.zeros((n, 1)))]
    coefs, stds, n_warn = [], [], 0
    # Small fits gain nothing from BLAS threads and lose much when cores are busy (measured on
    # cancer_logreg, 2 busy cores: 0.35 s per fit with the default threads, 0.01 s with one).
    small = n * X.shape[1] <= SMALL_FIT_CELLS
    limits = threadpool_limits(limits=1, user_api="blas") if small else nullcontext()
    try:
        with limits, execution.runner() as runner, execution.reporting() as progress:
            progress.start(len(tasks), f"refitting on {n_splits}-fold × {n_repeats}")
            fits = list(
                runner.map(
                    _fit_fold,
                    tasks,
                    shared=(estimator, X, y, sample_weight, out_names, input_names, rows),
                    progress=progress,
                )
            )
    except InspectError:
        raise
    except TypeError as exc:
        if sample_weight is not None and "sample_weight" in str(exc):
            raise UsageError(
                f"the model's fit does not take sample weights: {exc}", "drop `sample_weight`"
            ) from exc
        raise ComputationError(f"refitting the model failed: {type(exc).__name__}: {exc}") from exc
    except (ValueError, ArithmeticError, IndexError, KeyError) as exc:
        first = first_line(exc, "")
        raise ComputationError(
            f"refitting the model on a fold failed: {type(exc).__name__}: {first}",
            "this is the estimator's own error; a fold may lack a class or a category — try fewer folds",
        ) from exc
    for c, s, w in fits:
        coefs.append(c)
        stds.append(s)
        n_warn += w
    return CVCoefficients(
        n_splits=n_splits,
        n_repeats=n_repeats,
        random_state=random_state,
        coef=np.stack(coefs),
        feature_std=np.stack(stds),
        convergence_warnings=n_warn,
    )
