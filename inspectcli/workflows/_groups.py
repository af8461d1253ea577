"""Subgroups of rows for `--by COLUMN` (pdp, ale): one group per level, or per quantile bin.

How a column becomes groups:

- **levels**: text, category and bool columns, and integer columns (or floats holding only whole
  numbers) with at most ``max_levels`` distinct values, give one group per value. Levels are in
  the categories' order for a pandas Categorical, else sorted. When a text / category / bool
  column has more than ``max_levels`` levels, the ``max_levels − 1`` most frequent keep their
  group (ties: the first in level order) and the others are pooled into one group ``other``.
- **quantiles**: other numeric columns are cut at their quantiles ``0, 1/Q, …, 1`` (``Q = bins``;
  quantile type 1, the inverse of the empirical CDF, so every edge is a value of the data and no
  bin is empty), repeated edges merged; bin ``k`` is ``(e_{k−1}, e_k]``, the first closed on the
  left, labelled with its interval.
- **missing** values (NaN, None, NaT) form their own group ``missing``, last.

A column that gives fewer than two groups is a usage error: there is nothing to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.errors import UsageError

#: A group with fewer rows than this gets a note: its curve averages over few rows.
MIN_GROUP_ROWS = 30
MISSING = "missing"
SHARED_GRID = "shared: computed on all rows, so every group's curve lies on the same grid"
OTHER = "other"


@dataclass
class Group:
    """One subgroup: its label, which rows (positions among the rows used) and what it holds."""

    label: str
    positions: np.ndarray  # sorted positions among the rows used
    level: Any = None  # the value (levels), None for bins, "other" and "missing"
    interval: tuple[float, float] | None = None  # (lo, hi] of a quantile bin
    pooled: list[Any] | None = None  # the levels pooled into "other"

    @property
    def n_rows(self) -> int:
        return len(self.positions)

    def as_json(self, column: str) -> dict[str, Any]:
        from inspectcli.engines.grid import plain

        return {
            "column": column,
            "label": self.label,
            "n_rows": self.n_rows,
            "level": plain(self.level),
            "interval": None if self.interval is None else [float(v) for v in self.interval],
        }


@dataclass
class Grouping:
    """How the rows were split: the column, the rule (``levels`` or ``quantiles``) and the groups."""

    column: str
    how: str
    groups: list[Group]
    bins: int | None = None
    max_levels: int | None = None
    edges: list[float] | None = None

    def as_json(self, grid: str = SHARED_GRID) -> dict[str, Any]:
        return {
            "column": self.column,
            "how": self.how,
            "bins": self.bins,
            "max_levels": self.max_levels,
            "edges": self.edges,
            "groups": [
                {
                    "label": g.label,
                    "n_rows": g.n_rows,
                    **({"pooled": [str(v) for v in g.pooled]} if g.pooled else {}),
                }
                for g in self.groups
            ],
            "grid": grid,
        }

    def notes(self) -> list[str]:
        out = []
        small = [g for g in self.groups if g.n_rows < MIN_GROUP_ROWS]
        if small:
            listed = ", ".join(f"'{g.label}' ({g.n_rows:,})" for g in small)
            out.append(
                f"`by` {self.column}: group(s) with fewer than {MIN_GROUP_ROWS} rows: {listed}; "
                "their curves average over few rows"
            )
        pooled = [g for g in self.groups if g.pooled]
        for g in pooled:
            out.append(
                f"`by` {self.column}: {len(g.pooled or []):,} less frequent levels pooled into "
                f"'{OTHER}' ({g.n_rows:,} rows); `by_max_levels` keeps more"
            )
        return out


def _interval_labels(edges: np.ndarray) -> list[str]:
    """'[a, b]', '(b, c]', … with as many significant digits as keep neighbouring edges apart."""
    for digits in range(4, 18):
        texts = [f"{e:.{digits}g}" for e in edges]
        if len(set(texts)) == len(texts):
            break
    return [("[" if k == 0 else "(") + f"{texts[k]}, {texts[k + 1]}]" for k in range(len(edges) - 1)]


def _is_level_column(values: pd.Series, max_levels: int) -> bool:
    from inspectcli.engines.grid import is_categorical_dtype

    if is_categorical_dtype(values):
        return True
    kept = values.dropna()
    if pd.api.types.is_integer_dtype(values.dtype) or (
        pd.api.types.is_float_dtype(values.dtype) and len(kept) and bool(np.all(np.mod(kept, 1) == 0))
    ):
        return kept.nunique() <= max_levels
    return False


def check_group_options(bins: int, max_levels: int) -> None:
    """Usage errors for ``by_bins`` and ``by_max_levels`` (before any data is read)."""
    if bins < 2:
        raise UsageError(f"`by_bins={bins}` must be at least 2", "e.g. `by_bins=4` (quartiles)")
    if max_levels < 2:
        raise UsageError(f"`by_max_levels={max_levels}` must be at least 2", "e.g. `by_max_levels=8`")


def by_values(column: str, inputs: Any, rows: Any) -> pd.Series:
    """The values of ``column`` in the rows used (``rows``), from the model's inputs when it is a
    feature, else from the other columns read (workflows/_inputs.load_inputs ``also``)."""
    prep, data = inputs.prepared, inputs.data
    if column in prep.feature_names:
        from inspectcli.workflows._inputs import feature_column

        values = feature_column(prep.X, prep.feature_names, column)
    else:
        values = data.frame[column]
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if data.sample is None:  # (rows drawn before reading: the frame holds just them)
        series = series.iloc[np.asarray(rows.ids)].reset_index(drop=True)
    return series


def make_groups(values: Any, column: str, *, bins: int = 4, max_levels: int = 8) -> Grouping:
    """Split rows by the values of ``column``.

    Parameters
    ----------
    values : array-like of shape (n_rows,)
        The column's value in each row used.
    column : str
        Its name (for labels and messages).
    bins : int, default=4
        Quantile bins of a numeric column.
    max_levels : int, default=8
        Most groups of levels (more are pooled into ``other``); integer columns with more distinct
        values are binned.

    Returns
    -------
    Grouping
    """
    check_group_options(bins, max_levels)
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    series = series.reset_index(drop=True)
    if pd.api.types.is_object_dtype(series.dtype):
        converted = series.infer_objects()
        series = converted if not pd.api.types.is_object_dtype(converted.dtype) else series
    missing = series.isna().to_numpy().copy()
    if pd.api.types.is_float_dtype(series.dtype):
        missing |= ~np.isfinite(series.to_numpy(dtype=float, na_value=np.nan))
    kept_pos = np.flatnonzero(~missing)
    if _is_level_column(series, max_levels):
        grouping = _by_levels(series, kept_pos, column, max_levels)
    else:
        grouping = _by_quantiles(series, kept_pos, column, bins)
    if missing.any():
        grouping.groups.append(Group(MISSING, np.flatnonzero(missing)))
    if len(grouping.groups) < 2:
        only = grouping.groups[0].label if grouping.groups else MISSING
        raise UsageError(
            f"`by!` column '{column}' has one level ('{only}'): no groups to compare",
            "choose a column with at least two values",
            param="by",
        )
    return grouping


def _level_label(value: Any) -> str:
    """A level as text: whole floats without '.0' (integers read as floats because of a NaN)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _by_levels(series: pd.Series, kept_pos: np.ndarray, column: str, max_levels: int) -> Grouping:
    kept = series.iloc[kept_pos]
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(kept.unique().tolist())
        levels = [v for v in series.cat.categories if v in present]
    else:
        try:
            levels = sorted(kept.unique().tolist())
        except TypeError:  # mixed types: by their text
            levels = sorted(kept.unique().tolist(), key=str)
    codes = {v: i for i, v in enumerate(levels)}
    code_of = kept.map(codes).to_numpy(dtype=np.int64)
    counts = np.bincount(code_of, minlength=len(levels))
    pooled: list[Any] = []
    if len(levels) > max_levels:
        top = sorted(np.argsort(-counts, kind="stable")[: max_levels - 1].tolist())
        pooled = [levels[i] for i in range(len(levels)) if i not in set(top)]
        keep = top
    else:
        keep = list(range(len(levels)))
    groups = [Group(_level_label(levels[i]), kept_pos[code_of == i], level=levels[i]) for i in keep]
    if pooled:
        mask = ~np.isin(code_of, keep)
        groups.append(Group(OTHER, kept_pos[mask], pooled=pooled))
    return Grouping(column, "levels", groups, max_levels=max_levels)


def _by_quantiles(series: pd.Series, kept_pos: np.ndarray, column: str, bins: int) -> Grouping:
    try:
        x = series.iloc[kept_pos].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"`by!` column '{column}' is neither numeric nor categorical", "choose another column", param="by"
        ) from exc
    if x.size == 0:
        return Grouping(column, "quantiles", [], bins=bins)
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1), method="inverted_cdf"))
    if edges.size < 2:
        return Grouping(column, "levels", [Group(f"{edges[0]:g}", kept_pos, level=edges[0])])
    # bin k = (e_{k-1}, e_k], the first closed on the left
    codes = np.clip(np.searchsorted(edges, x, side="left") - 1, 0, edges.size - 2)
    labels = _interval_labels(edges)
    groups = [
        Group(labels[k], kept_pos[codes == k], interval=(float(edges[k]), float(edges[k + 1])))
        for k in range(edges.size - 1)
        if np.any(codes == k)
    ]
    return Grouping(column, "quantiles", groups, bins=bins, edges=[float(e) for e in edges])
