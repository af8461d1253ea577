"""Impurity-based importance (MDI) of tree models, mapped back to the input columns.

LightGBM, XGBoost and CatBoost models report their own kind of built-in importance in
``feature_importances_`` (split count, gain, PredictionValuesChange, ...): it is mapped the same
way and labelled for what it is (``kind``), never as "MDI" (see inspectcli/gbm.py).

scikit-learn's user guide (5.2.2) contrasts it with permutation importance: MDI is computed on the
training data and favours high-cardinality features. For a pipeline the final estimator's
``feature_importances_`` refer to *transformed* features; a one-hot encoded column's share is the
sum over its indicator columns. Which input column each transformed feature comes from is found by
perturbation: permute one input column of a sample and see which outputs change; names from
``get_feature_names_out`` settle outputs the sample cannot move (e.g. categories absent from it).
An output that moves with several inputs (PCA, polynomial features) cannot be attributed: those
columns get no MDI, and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from inspectcli.engines.frames import assemble, column, take
from inspectcli.introspect import final_estimator

SAMPLE_ROWS = 2000


@dataclass
class ImpurityImportance:
    """MDI per input column, where the mapping is known."""

    estimator: str
    values: dict[str, float]  # input column -> summed MDI
    transformed: list[dict[str, Any]] = field(default_factory=list)  # name, mdi, sources
    unmapped: list[str] = field(default_factory=list)  # input columns without an MDI
    note: str | None = None
    #: what the values measure: "MDI" for scikit-learn's trees, else the library's own kind
    #: ("split count", "total gain", "gain", "weight (split count)", "cover", "PredictionValuesChange")
    kind: str = "MDI"
    #: a plot title: "MDI (RandomForestClassifier, training data)", "LightGBM split count (training data)"
    title: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator,
            "kind": self.kind,
            "values": self.values,
            "unmapped": self.unmapped,
            "transformed": self.transformed,
            "note": self.note,
        }


def _dense(a: Any) -> np.ndarray:
    if sparse.issparse(a):
        return a.toarray()
    if isinstance(a, pd.DataFrame):
        return a.to_numpy()
    return np.asarray(a)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per column: does any row differ (NaN equal to NaN)?"""
    try:
        same = (a == b) | (pd.isna(a) & pd.isna(b))
    except TypeError:
        same = a.astype(str) == b.astype(str)
    return ~np.all(same, axis=0)


def impurity_importance(
    estimator: Any, X: Any, feature_names: list[str], random_state: int = 0
) -> ImpurityImportance | None:
    """MDI (or a GBM library's built-in importance) per input column; None without feature_importances_.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        Its final step's ``feature_importances_`` (shape (n_features_out,)) is mapped back to the
        input columns through the pipeline's transform.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Data used to find which input columns feed each transformed column.
    feature_names : list of str of length n_features
        Names of X's columns.
    random_state : int, default=0
        Seed of the perturbation that traces transformed columns to their sources.

    Returns
    -------
    ImpurityImportance or None
        ``values``: summed MDI per input column (columns that feed mixed outputs left out, in
        ``unmapped``); ``transformed``: the MDI of each transformed column and its sources.
    """
    from inspectcli.gbm import feature_importances

    final = final_estimator(estimator)
    mdi = feature_importances(final)
    if mdi is None:
        return None
    name = type(final).__name__
    result = _impurity_importance(estimator, final, mdi, name, X, feature_names, random_state)
    from inspectcli.gbm import builtin_importance

    builtin = builtin_importance(final)
    if builtin is not None:
        result.kind, result.title = builtin.label, builtin.title
    else:
        result.title = f"MDI ({name}, training data)"
    return result


def _impurity_importance(
    estimator: Any,
    final: Any,
    mdi: np.ndarray,
    name: str,
    X: Any,
    feature_names: list[str],
    random_state: int,
) -> ImpurityImportance:
    if final is estimator:
        if len(mdi) != len(feature_names):
            return ImpurityImportance(
                name,
                {},
                unmapped=list(feature_names),
                note="feature_importances_ does not match the data's columns",
            )
        return ImpurityImportance(name, dict(zip(feature_names, mdi.tolist())))

    pre = estimator[:-1]
    try:
        out_names = [str(n) for n in pre.get_feature_names_out()]
    except Exception:
        out_names = [f"t{i}" for i in range(len(mdi))]
    if len(out_names) != len(mdi):
        out_names = [f"t{i}" for i in range(len(mdi))]

    sources = input_sources(pre.transform, X, feature_names, out_names, random_state=random_state)

    values: dict[str, float] = {}
    mixed = []
    transformed = []
    for out, share, src in zip(out_names, mdi, sources):
        transformed.append({"name": out, "mdi": float(share), "sources": sorted(src)})
        if len(src) == 1:
            c = next(iter(src))
            values[c] = values.get(c, 0.0) + float(share)
        elif len(src) > 1:
            mixed.append(out)
    note = None
    if mixed:
        note = (
            f"{len(mixed)} transformed feature(s) mix several input columns (e.g. {mixed[0]}); "
            "their impurity importance cannot be assigned to one column"
        )
        # a column feeding a mixed output has only part of its MDI: do not report a misleading sum
        touched = {c for out, src in zip(out_names, sources) if len(src) > 1 for c in src}
        for c in touched:
            values.pop(c, None)
    unmapped = [c for c in feature_names if c not in values]
    ordered = {c: values[c] for c in feature_names if c in values}
    return ImpurityImportance(name, ordered, transformed, unmapped, note)


def input_sources(
    transform: Callable[[Any], Any],
    X: Any,
    feature_names: list[str],
    out_names: list[str],
    random_state: int = 0,
) -> list[set[str]]:
    """The input columns each transformed feature depends on, found by perturbation.

    Permute one input column of a sample of rows at a time and see which outputs of
    ``transform`` change; names from ``get_feature_names_out`` settle outputs the sample cannot
    move (e.g. a category absent from it). An output with several sources mixes inputs.
    """
    n = X.shape[0]
    rng = np.random.RandomState(random_state)
    rows = np.sort(rng.choice(n, size=min(n, SAMPLE_ROWS), replace=False))
    sample = assemble(X, rows)
    base = _dense(transform(sample))
    sources: list[set[str]] = [set() for _ in out_names]
    for j, col in enumerate(feature_names):
        perm = rng.permutation(len(rows))
        moved = assemble(sample, np.arange(len(rows)), {j: take(column(sample, j), perm)})
        changed = _differs(base, _dense(transform(moved)))
        for k in np.flatnonzero(changed):
            sources[k].add(col)
    # names settle outputs the sample could not move (e.g. a category absent from the sample)
    for k, out in enumerate(out_names):
        if sources[k]:
            continue
        hits = [
            c
            for c in feature_names
            if out == c or out.endswith(f"__{c}") or f"__{c}_" in out or out.startswith(f"{c}_")
        ]
        if len(hits) == 1:
            sources[k].add(hits[0])
    return sources
