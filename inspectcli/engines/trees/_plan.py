"""The plan of one call (a family's spec plus the column-wise prefix) and the model space.

:func:`_plan` pairs the final estimator's :class:`_Spec` with the pipeline prefix before it;
:func:`_model_space` transforms ``X`` once through both, giving the feature-major float64 matrix
every walk reads and the input column behind each of its columns.  :func:`_with_free` writes
grid values into copies of rows of ``X`` (for grids and self-checks).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.pipeline import Pipeline

from inspectcli.engines.trees._model import (
    _Unsupported,
)
from inspectcli.engines.trees._pipeline import (
    _names_to_positions,
    _transformer_source,
)
from inspectcli.engines.trees._specs import (
    _model_spec,
    _Spec,
)


@dataclass
class _Plan:
    """A tree model plus the column-wise prefix that feeds it."""

    spec: _Spec
    prefix: Any | None  # fitted Pipeline of transformers, or None
    prefix_source: Callable[[Any], np.ndarray]  # prefix output column -> column of X


@dataclass
class _Kept:
    """The specs of the last estimator read, and its state when they were read."""

    estimator: Any
    state: list[tuple[str, Any, int | None]]  # (attribute, value, length of a list / dict)
    specs: dict[tuple[str, bool], _Spec]


_KEPT: list[_Kept] = []


def _state(est: Any) -> list[tuple[str, Any, int | None]] | None:
    attrs = getattr(est, "__dict__", None)
    if not isinstance(attrs, dict):
        return None
    return [(k, v, len(v) if isinstance(v, list | dict) else None) for k, v in attrs.items()]


def _same_state(a: list[tuple[str, Any, int | None]], b: list[tuple[str, Any, int | None]]) -> bool:
    return len(a) == len(b) and all(x[0] == y[0] and x[1] is y[1] and x[2] == y[2] for x, y in zip(a, b))


def _kept_spec(est: Any, response_method: str, labels: bool) -> _Spec:
    """:func:`_model_spec`, kept for the last estimator while none of its attributes changes.

    The trees (and what is built from them: node lists, shapes, the forest and its split bits)
    are then read once for the PDs of all features of one model.  The estimator counts as
    unchanged while every attribute holds the same object (the values are held, so their ids
    are not reused) and lists and dicts keep their length (warm starts append): a refit
    replaces the fitted attributes.  One estimator is kept (its specs refer to it).
    """
    state = _state(est)
    if state is None:
        return _model_spec(est, response_method, labels)
    key = (response_method, labels)
    if _KEPT and _KEPT[0].estimator is est and _same_state(_KEPT[0].state, state):
        spec = _KEPT[0].specs.get(key)
        if spec is None:
            spec = _KEPT[0].specs[key] = _model_spec(est, response_method, labels)
        return spec
    spec = _model_spec(est, response_method, labels)
    _KEPT[:] = [_Kept(est, state, {key: spec})]
    return spec


def forget_kept() -> None:
    """Drop the kept specs (and the split bits kept on them)."""
    _KEPT.clear()


def _plan(estimator: Any, response_method: str, labels: bool = False) -> _Plan:
    """The tree model and its column-wise prefix; ``labels`` admits a classifier's ``predict``."""
    if type(estimator) is not Pipeline:
        return _Plan(_kept_spec(estimator, response_method, labels), None, lambda X: None)
    steps = estimator.steps
    final = steps[-1][1]
    if final is None or isinstance(final, str):
        raise _Unsupported("pipeline without a final estimator")
    if not hasattr(estimator, response_method):
        raise _Unsupported(f"pipeline has no {response_method!r}")
    spec = _kept_spec(final, response_method, labels)
    transformers = [step for _, step in steps[:-1]]
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is None:
        raise _Unsupported("pipeline is not fitted")
    src = np.arange(int(n_in))
    for step in transformers:
        src = src[_transformer_source(step, src.size)]
    prefix = estimator[:-1] if transformers else None
    names = getattr(estimator, "feature_names_in_", None)

    def prefix_source(X: Any) -> np.ndarray:
        positions = _names_to_positions(names, X)
        return src if positions is None else positions[src]

    return _Plan(spec, prefix, prefix_source)


def _checked_plan(estimator: Any, response_method: str, labels: bool = False) -> _Plan:
    """:func:`_plan`, its refusal as the ValueError of the public functions."""
    try:
        return _plan(estimator, response_method, labels=labels)
    except _Unsupported as exc:
        raise ValueError(f"tree paths cannot reproduce this estimator: {exc}") from exc


@dataclass
class _ModelSpace:
    """X as the trees see it, and where each of their input columns comes from."""

    cols: np.ndarray  # (n_model_columns, n) float64, one row per model input column
    nan_cols: np.ndarray  # (n_model_columns,) the column holds a NaN
    source: np.ndarray  # (n_model_columns,) the column of X that feeds it
    init: np.ndarray | None  # the estimator's starting raw values, when it has them


def _model_space(plan: _Plan, X: Any) -> _ModelSpace:
    """X through the column-wise prefix and the model's own validation, transformed once."""
    spec = plan.spec
    Xt = X if plan.prefix is None else plan.prefix.transform(X)
    Xv, cols = _dense_model(spec, Xt)
    source = spec.model_source(Xt)
    prefix_src = plan.prefix_source(X)
    if prefix_src is not None:
        source = prefix_src[source]
    if source.shape[0] != cols.shape[0]:
        raise ValueError("could not map the model's columns to the columns of X")
    init = None if spec.init is None else np.asarray(spec.init(Xv), dtype=np.float64)
    return _ModelSpace(cols, np.isnan(cols).any(axis=1), source, init)


def _dense_model(spec: _Spec, Xt: Any) -> tuple[np.ndarray, np.ndarray]:
    """(validated matrix as the model holds it, the same as float64 column-major rows)."""
    Xv = spec.to_model(Xt)
    if sp.issparse(Xv):
        Xv = Xv.toarray()
    Xv = np.asarray(Xv)
    # float32 -> float64 is exact: comparisons against float64 thresholds are unchanged.
    cols = np.ascontiguousarray(Xv.T, dtype=np.float64)
    return Xv, cols


def _with_free(X: Any, rows: np.ndarray, free: Sequence[int], values: np.ndarray) -> Any:
    """Rows ``rows`` of ``X`` with the columns ``free`` set to ``values`` (one row each)."""
    if hasattr(X, "iloc"):
        Xs = X.iloc[rows].copy()
        for j, col in enumerate(free):
            vals = np.asarray(values[:, j])
            if vals.dtype == object:
                inferred = pd.Series(list(vals), dtype=object).infer_objects()
                if inferred.dtype.kind in "biuf":
                    vals = inferred.to_numpy()
            dtype = Xs.dtypes.iloc[col]
            if isinstance(dtype, np.dtype) and dtype.kind in "biuf" and vals.dtype.kind in "biuf":
                with np.errstate(invalid="ignore", over="ignore"):
                    cast = vals.astype(dtype)
                if not np.array_equal(cast, vals, equal_nan=dtype.kind == "f"):
                    # pandas refuses lossy setitem: hold the exact grid values instead.
                    cast = vals.astype(np.result_type(dtype, vals.dtype))
                Xs.isetitem(col, cast)
            elif pd.api.types.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
                # (iloc setitem of a one-row string column reads the array as one value)
                Xs.isetitem(col, pd.array(list(vals), dtype=dtype))
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    Xs.iloc[:, col] = vals
        return Xs
    Xs = np.asarray(X)[rows].copy()
    Xs[:, list(free)] = values
    return Xs
