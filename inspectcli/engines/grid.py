"""Grid values for partial dependence: percentiles + resolution, custom values, categorical levels.

Numeric grids are built exactly as scikit-learn's ``_grid_from_X`` builds them (``np.unique`` when
there are fewer unique values than ``grid_resolution``, else ``grid_resolution`` points evenly
spaced between the ``mquantiles`` at ``percentiles``), so grids match to the last digit. Beyond
scikit-learn: integer columns are numeric (it refuses them), missing values never become grid
points, and a constant column is a clear usage error instead of a one-point "curve".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.mstats import mquantiles

from inspectcli.errors import UsageError
from inspectcli.numbers import parse_finite


def check_grid_options(percentiles: Sequence[float], grid_resolution: int) -> tuple[float, float]:
    """Validate --percentiles and --grid-resolution as scikit-learn does, as usage errors."""
    if len(percentiles) != 2:
        raise UsageError(f"`percentiles` needs two values LO,HI, got {list(percentiles)}", "e.g. 0.05,0.95")
    lo, hi = float(percentiles[0]), float(percentiles[1])
    if not (0 <= lo <= 1 and 0 <= hi <= 1):
        raise UsageError(f"`percentiles={lo},{hi}` must lie in [0, 1]", "e.g. 0.05,0.95")
    if lo == hi:
        raise UsageError(f"`percentiles={lo},{hi}` span nothing: LO must be below HI", "e.g. 0.05,0.95")
    if lo > hi:
        raise UsageError(f"`percentiles={lo},{hi}` are out of order: LO must be below HI", f"try {hi},{lo}")
    if grid_resolution <= 1:
        raise UsageError(
            f"`grid_resolution={grid_resolution}` must be at least 2", "e.g. `grid_resolution=20`"
        )
    return lo, hi


def is_categorical_dtype(column: Any) -> bool:
    """String, object, pandas category and bool columns are categorical by default."""
    dtype = getattr(column, "dtype", None)
    if dtype is None:
        return False
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    return bool(pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype))


def _values(column: Any) -> np.ndarray:
    if isinstance(column, (pd.Series, pd.Index)):
        return column.to_numpy()
    return np.asarray(column)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages read 3, not np.int64(3))."""
    return value.item() if isinstance(value, np.generic) else value


def _drop_missing(values: np.ndarray) -> np.ndarray:
    mask = pd.isna(values)
    return values[~mask] if mask.any() else values


def parse_custom_values(text: str, column: Any, name: str) -> np.ndarray:
    """'20,30,40' -> values in the column's type (numbers for numeric columns)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"`values={name}=` lists no values", f"e.g. `values={name}=1,2,3`")
    dtype = getattr(column, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
        out = []
        for p in parts:
            match = [c for c in cats if str(c) == p]
            if not match:
                raise UsageError(
                    f"`values={name}`: '{p}' is not a category of '{name}'",
                    f"categories are {', '.join(map(str, cats[:12]))}",
                )
            out.append(match[0])
        return np.asarray(out, dtype=object)
    if dtype is not None and pd.api.types.is_bool_dtype(dtype):
        table = {"true": True, "1": True, "false": False, "0": False}
        try:
            return np.asarray([table[p.lower()] for p in parts], dtype=bool)
        except KeyError as exc:
            raise UsageError(
                f"`values={name}`: {exc} is not true/false",
                f"'{name}' is a true/false column: e.g. {name}=true,false",
            ) from exc
    if dtype is not None and pd.api.types.is_numeric_dtype(dtype):
        hint = f"'{name}' is numeric: give numbers (finite ones), e.g. {name}=1,2,3"
        return np.asarray([parse_finite(p, f"`values={name}`:", hint) for p in parts], dtype=float)
    return np.asarray(parts, dtype=object)


def feature_grid(
    column: Any,
    *,
    name: str,
    categorical: bool,
    percentiles: tuple[float, float] = (0.05, 0.95),
    grid_resolution: int = 100,
    custom: np.ndarray | None = None,
) -> np.ndarray:
    """The grid axis of one feature.

    Parameters
    ----------
    column : array-like of shape (n_samples,)
    name : str
        For error messages.
    categorical : bool
        Use the levels present in the column.
    percentiles, grid_resolution :
        As in scikit-learn's ``partial_dependence``.
    custom : ndarray, optional
        Use these values as they are (scikit-learn's ``custom_values``).
    """
    if custom is not None:
        arr = np.asarray(custom)
        if arr.ndim != 1 or arr.size == 0:
            raise UsageError(f"custom grid of '{name}' must be a non-empty list of values")
        return arr
    values = _values(column)
    try:
        uniques = _drop_missing(np.unique(values))
    except TypeError:
        # mixed types (e.g. strings and NaN in an object column): unique as strings, NaN dropped
        uniques = np.unique(_drop_missing(values).astype(str)).astype(object)
    if uniques.size == 0:
        raise UsageError(f"feature '{name}' has only missing values", "choose another feature")
    if uniques.size == 1:
        raise UsageError(
            f"feature '{name}' is constant (every row is {plain(uniques[0])!r}): its partial dependence "
            "would be a single point",
            f"choose another feature, or give a grid with `values={name}=v1,v2,…`",
        )
    if categorical or uniques.shape[0] < grid_resolution:
        return uniques
    finite = values
    if pd.isna(values).any():
        finite = _drop_missing(values)
    emp = mquantiles(finite, prob=percentiles, axis=0)
    if np.allclose(emp[0], emp[1]):
        raise UsageError(
            f"percentiles {percentiles[0]},{percentiles[1]} of '{name}' are the same value "
            f"({plain(emp[0])!r}), so no grid can be built",
            "widen `percentiles` (e.g. 0,1) or give `values`",
        )
    return np.linspace(emp[0], emp[1], num=grid_resolution, endpoint=True)


def cartesian(axes: Sequence[np.ndarray]) -> np.ndarray:
    """All combinations of the axes' values, first axis slowest (as scikit-learn's ``cartesian``).

    The result has the most permissive dtype of the axes (object when any axis is object).
    """
    from sklearn.utils.extmath import cartesian as sk_cartesian

    return sk_cartesian([np.asarray(a) for a in axes])


def order_levels(
    levels: np.ndarray,
    column: Any,
    name: str,
    given: Sequence[Any] | None = None,
    model_order: Sequence[Any] | None = None,
) -> tuple[np.ndarray, str]:
    """The levels of a categorical grid in the order a reader expects, and where it came from.

    ``given`` (``--order``: every level once) wins; then the categories' order of an *ordered*
    pandas Categorical column ("categories"); then the order of the model's encoder ("model",
    its ``categories_``; levels it does not know go last); else the sorted order ("sorted", as
    scikit-learn's grid).
    """
    text = [str(v) for v in levels.tolist()]
    if given is not None:
        wanted = [str(g).strip() for g in given]
        unknown = [g for g in wanted if g not in text]
        if unknown:
            raise UsageError(
                f"`order={name}`: '{unknown[0]}' is not a level of '{name}' in the data",
                f"levels are {', '.join(text[:12])}",
            )
        missing = [t for t in text if t not in wanted]
        if missing or len(set(wanted)) != len(wanted):
            raise UsageError(
                f"`order={name}` must list every level of '{name}' once",
                f"missing: {', '.join(missing[:12])}" if missing else "a level is listed twice",
            )
        return _take(levels, [text.index(g) for g in wanted]), "given"
    dtype = getattr(column, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
        cats = [str(c) for c in dtype.categories]
        return _take(levels, sorted(range(len(text)), key=lambda k: _position(text[k], cats))), "categories"
    if model_order is not None:
        cats = [str(c) for c in model_order]
        if any(t in cats for t in text):
            keys = sorted(range(len(text)), key=lambda k: _position(text[k], cats))
            return _take(levels, keys), "model"
    return levels, "sorted"


def _position(value: str, order: list[str]) -> int:
    return order.index(value) if value in order else len(order)


def _take(levels: np.ndarray, positions: list[int]) -> np.ndarray:
    return np.asarray(levels)[np.asarray(positions, dtype=int)]
