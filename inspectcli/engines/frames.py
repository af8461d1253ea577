"""Assemble stacked copies of X for one prediction call, keeping every column's dtype.

Both the PDP engine (grid values written into feature columns) and the permutation engine
(permuted columns) predict on many modified copies of X at once. They describe a batch as "these
source rows, with these columns replaced", and this module builds it: a DataFrame with the same
columns and dtypes (category, string, bool, int stay what they are, as pipelines need), or an
ndarray for models fitted on arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.errors import UsageError, did_you_mean
from inspectcli.introspect import default_feature_names


def column(X: Any, j: int) -> Any:
    """Column j as a Series (DataFrame) or 1-d array."""
    return X.iloc[:, j] if hasattr(X, "iloc") else np.asarray(X)[:, j]


def _array_of(col: pd.Series) -> Any:
    if isinstance(col.dtype, pd.api.extensions.ExtensionDtype):
        return col.array
    return col.to_numpy()


def column_arrays(X: Any) -> list[Any] | None:
    """The column arrays of a DataFrame (None for an ndarray), to pass to ``assemble`` repeatedly."""
    if not hasattr(X, "iloc"):
        return None
    return [_array_of(X.iloc[:, j]) for j in range(X.shape[1])]


def _one_numpy_dtype(arrays: list[Any], replace: Mapping[int, Any]) -> np.dtype | None:
    """The dtype shared by every column and replacement, when it is one plain numeric numpy dtype."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1:
        return None
    dtype = dtypes.pop()
    if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu":
        return None
    for values in replace.values():
        if not isinstance(values, np.ndarray) or values.dtype != dtype:
            return None
    return dtype


def assemble(
    X: Any, rows: np.ndarray, replace: Mapping[int, Any] | None = None, arrays: list[Any] | None = None
) -> Any:
    """Rows ``rows`` of X, with the columns at positions in ``replace`` set to the given arrays.

    Parameters
    ----------
    X : DataFrame or ndarray
    rows : int array of shape (m,)
        Source row positions for the columns that are not replaced.
    replace : {column position: array of shape (m,)}
        Values for these columns (already in the column's dtype, see ``like_column``).
    arrays : list, optional
        ``column_arrays(X)``, when the caller assembles from the same X many times (saves a
        Series lookup per column per call).
    """
    replace = replace or {}
    if hasattr(X, "iloc"):
        if arrays is None:
            arrays = column_arrays(X)
        assert arrays is not None
        dtype = _one_numpy_dtype(arrays, replace)
        if dtype is not None:
            # One 2-D block: the model's validation then takes a view instead of copying the batch.
            block = np.empty((len(arrays), len(rows)), dtype=dtype)
            for j, values in enumerate(arrays):
                if j in replace:
                    block[j] = replace[j]
                else:
                    np.take(values, rows, out=block[j])
            return pd.DataFrame(block.T, columns=X.columns, copy=False)
        data = {}
        for j, name in enumerate(X.columns):
            if j in replace:
                data[name] = replace[j]
            else:
                data[name] = arrays[j].take(rows)
        return pd.DataFrame(data, columns=X.columns, copy=False)
    arr = np.asarray(X)
    out = arr[rows]
    for j, values in replace.items():
        out[:, j] = values
    return out


def set_column(X: Any, j: int, values: Any) -> None:
    """Replace column j of X in place: ``X.isetitem`` (a new column array, as ``X[name] = col``
    does in scikit-learn's permutation_importance) or ``X[:, j] = values``."""
    if hasattr(X, "iloc"):
        X.isetitem(j, values)
    else:
        X[:, j] = values


def take_rows(X: Any, rows: np.ndarray) -> Any:
    """The rows at positions ``rows`` of a DataFrame or an array, shape (len(rows), n_features)."""
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def take(values: Any, positions: np.ndarray) -> Any:
    """values[positions], dtype kept (Series -> its array)."""
    if isinstance(values, pd.Series):
        return _array_of(values).take(positions)
    return np.asarray(values).take(positions)


def integral(values: np.ndarray) -> bool:
    """True when every value is a finite whole number."""
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(v)) and np.all(v == np.round(v)))


def like_column(values: np.ndarray, col: Any) -> Any:
    """Values as an array of ``col``'s dtype, as ``X.iloc[:, j] = v`` keeps it in scikit-learn."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=dtype)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return pd.array(list(values), dtype=dtype)
    if dtype.kind in "iu" and integral(values):
        return np.asarray(values, dtype=float).astype(dtype)
    if dtype.kind == "f":
        return np.asarray(values, dtype=dtype)
    if dtype.kind == "b":
        return np.asarray(values, dtype=bool)
    if dtype.kind in "iu":
        return np.asarray(values, dtype=float)
    return np.asarray(values, dtype=object)


def widen_integer_columns(X: Any, positions: Mapping[int, np.ndarray]) -> Any:
    """X with the integer columns at ``positions`` made float when their new values are not whole."""
    if hasattr(X, "iloc"):
        widen = {
            X.columns[j]: np.float64
            for j, vals in positions.items()
            if X.iloc[:, j].dtype.kind in "iu" and not integral(vals)
        }
        return X.astype(widen) if widen else X
    arr = np.asarray(X)
    if arr.dtype.kind in "iub" and not all(integral(v) for v in positions.values()):
        return arr.astype(np.float64)
    return arr


def feature_names_of(X: Any, feature_names: Sequence[str] | None = None) -> list[str]:
    """Column names: ``feature_names``, else X's columns, else x0, x1, …"""
    if feature_names is not None:
        return [str(f) for f in feature_names]
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    return default_feature_names(X.shape[1])


def resolve_feature(spec: str | int, names: Sequence[str]) -> int:
    """A feature's column position from its name (or position)."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not 0 <= int(spec) < len(names):
            raise UsageError(f"feature index {spec} is out of range", f"there are {len(names)} features")
        return int(spec)
    name = str(spec)
    if name in names:
        return list(names).index(name)
    raise UsageError(
        f"unknown feature '{name}'{did_you_mean(name, names)}",
        "features are: " + ", ".join(list(names)[:15]) + (", …" if len(names) > 15 else ""),
    )


def check_sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray | None:
    """``sample_weight`` as a float array of ``n_rows`` values (None stays None).

    Usage errors for another shape, values that are not numbers, NaN / inf, negative weights or
    weights summing to zero (each would make an average or its band silently undefined or wrong).
    """
    if sample_weight is None:
        return None
    try:
        sample_weight = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError) as exc:
        raise UsageError("`sample_weight` holds values that are not numbers", "give numeric weights") from exc
    if sample_weight.shape != (n_rows,):
        raise UsageError(f"`sample_weight` has shape {sample_weight.shape}, expected ({n_rows},)")
    bad = int(np.count_nonzero(~np.isfinite(sample_weight)))
    if bad:
        raise UsageError(f"`sample_weight` has {bad} NaN or infinite value(s)", "fill or drop those rows")
    negative = int(np.count_nonzero(sample_weight < 0))
    if negative:
        raise UsageError(f"`sample_weight` has {negative} negative value(s)", "weights must be >= 0")
    if not sample_weight.any():
        raise UsageError("`sample_weight` sums to zero", "give positive weights")
    return sample_weight


def scaled_weights(sample_weight: np.ndarray | None) -> np.ndarray | None:
    """The weights times the power of two that brings the largest into [0.5, 1): exact, so weighted
    means are bit for bit the same, while ``Σ w²`` of a standard error neither overflows (weights of
    1e200: no SE) nor underflows (weights of 1e-200: an SE of 0)."""
    if sample_weight is None:
        return None
    top = float(np.max(sample_weight, initial=0.0))
    if top <= 0 or not np.isfinite(top):
        return sample_weight
    return np.ldexp(sample_weight, -np.frexp(top)[1])
