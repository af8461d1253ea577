"""The order of a categorical feature's levels for ALE: by similarity of the other features.

Apley & Zhu (2020) and Molnar (*Interpretable Machine Learning*, 8.2) order the levels so that
neighbours are alike in the rest of the data: the distance between two levels sums, over the other
features, the Kolmogorov–Smirnov distance of a numeric feature's distributions among their rows
(evaluated at its 1 %-quantiles), or the total variation distance of a discrete feature's
frequencies; the levels are sorted along a one-dimensional classical MDS of those distances. The
same rule as PyALE's ``order_groups`` (its orders and ours agree, up to reversal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from inspectcli.engines.frames import column
from inspectcli.engines.grid import is_categorical_dtype

ECDF_POINTS = 100  # quantiles of a numeric feature at which level ECDFs are compared
FEW_VALUES = 10  # an integer/bool feature with at most this many values counts as discrete


def numeric_values(col: Any) -> np.ndarray:
    values = col.to_numpy() if isinstance(col, pd.Series) else np.asarray(col)
    if values.dtype.kind == "b":
        return values.astype(float)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def is_discrete(col: Any) -> bool:
    if is_categorical_dtype(col):
        return True
    dtype = getattr(col, "dtype", np.asarray(col).dtype)
    kind = getattr(dtype, "kind", "O")
    if kind in "iub":
        return pd.Series(np.asarray(col)).nunique(dropna=True) <= FEW_VALUES
    return False


def level_distances(X: Any, j: int, codes: np.ndarray, valid: np.ndarray, n_levels: int) -> np.ndarray:
    """Distance between the levels of feature j: summed over the other features of X.

    Numeric features: Kolmogorov–Smirnov distance of their distributions within two levels,
    evaluated at the feature's 1 %-quantiles; discrete ones (text, category, bool, integers with
    few values): total variation distance of their frequencies (half the sum of absolute
    differences), as in Molnar's book and PyALE.
    """
    D = np.zeros((n_levels, n_levels))
    for i in range(X.shape[1]):
        if i == j:
            continue
        col = column(X, i)
        if is_discrete(col):
            vals = pd.Series(np.asarray(col)[valid]).astype(str).to_numpy()
            cats, inv = np.unique(vals, return_inverse=True)
            table = np.zeros((n_levels, len(cats)))
            np.add.at(table, (codes, inv), 1.0)
            props = table / np.maximum(table.sum(axis=1, keepdims=True), 1.0)
            D += 0.5 * np.abs(props[:, None, :] - props[None, :, :]).sum(axis=2)
        else:
            x = numeric_values(col)[valid]
            ok = np.isfinite(x)
            if not ok.any():
                continue
            qs = np.quantile(x[ok], np.arange(ECDF_POINTS) / ECDF_POINTS)
            F = np.zeros((n_levels, len(qs)))
            for lvl in range(n_levels):
                xs = np.sort(x[ok & (codes == lvl)])
                if xs.size:
                    F[lvl] = np.searchsorted(xs, qs, side="right") / xs.size
            D += np.abs(F[:, None, :] - F[None, :, :]).max(axis=2)
    return D


def mds_order(D: np.ndarray) -> np.ndarray:
    """Positions sorted by their coordinate in a 1-D classical (Torgerson) MDS of D.

    The coordinate's sign is arbitrary: it is chosen so that the first position comes before the
    last (an order and its reverse give the same ALE). Ties keep the given order.
    """
    n = D.shape[0]
    if n < 3 or not np.any(D > 0):
        return np.arange(n)
    J = np.eye(n) - np.ones((n, n)) / n
    B = -0.5 * J @ (D**2) @ J
    vals, vecs = np.linalg.eigh(B)
    coord = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    if coord[0] > coord[-1]:
        coord = -coord
    return np.argsort(coord, kind="stable")
