"""Clusters of correlated features, for grouped permutation importance.

scikit-learn's user guide (5.2.3) warns that permuting one of two correlated features barely
changes the score, because the model can read the same information from the other: both look
unimportant. Its example "Permutation Importance with Multicollinear or Correlated Features"
clusters features on Spearman rank correlation (Ward linkage on 1 − |ρ|) and keeps one per
cluster; here each cluster becomes a group permuted together, so its importance is not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from scipy.stats import spearmanr

from inspectcli.errors import UsageError


@dataclass
class Clustering:
    """Spearman correlation of the numeric features, their Ward linkage and flat clusters."""

    features: list[str]  # clustered (numeric) features, in data order
    excluded: list[str]  # non-numeric features, left out (each stays its own row)
    correlation: np.ndarray  # (n, n) Spearman ρ
    linkage: np.ndarray  # scipy linkage matrix
    labels: np.ndarray  # cluster id (1-based) of each feature
    threshold: float

    def clusters(self) -> list[list[str]]:
        """Every cluster's members (data order), clusters ordered by their first member."""
        out: dict[int, list[str]] = {}
        for name, lab in zip(self.features, self.labels):
            out.setdefault(int(lab), []).append(name)
        return sorted(out.values(), key=lambda m: self.features.index(m[0]))

    def groups(self) -> dict[str, list[str]]:
        """Clusters of two or more features, named cluster_1, cluster_2, … ."""
        multi = [c for c in self.clusters() if len(c) > 1]
        return {f"cluster_{i + 1}": c for i, c in enumerate(multi)}

    def as_json(self) -> dict[str, Any]:
        return {
            "method": "spearman, ward linkage on 1-|rho|",
            "threshold": self.threshold,
            "features": self.features,
            "excluded": self.excluded,
            "clusters": self.clusters(),
            "groups": self.groups(),
            "correlation": self.correlation.tolist(),
        }


def spearman_clusters(X: Any, feature_names: list[str], threshold: float) -> Clustering:
    """Cluster the numeric columns of X at Ward-linkage distance ``threshold``.

    Parameters
    ----------
    X : DataFrame or ndarray (n_samples, n_features)
    feature_names : names of X's columns
    threshold : float > 0
        Distance at which the dendrogram is cut (scikit-learn's example uses 1).
    """
    if not threshold > 0:
        raise UsageError(f"`cluster_threshold={threshold}` must be positive", "try 0.5 or 1")
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X), columns=feature_names)
    frame = frame.set_axis(feature_names, axis=1)
    numeric = [
        c
        for c in feature_names
        if pd.api.types.is_numeric_dtype(frame[c]) and not isinstance(frame[c].dtype, pd.CategoricalDtype)
    ]
    excluded = [c for c in feature_names if c not in numeric]
    if len(numeric) < 2:
        raise UsageError(
            "`cluster_threshold` needs at least two numeric features to correlate",
            "group categorical columns by hand with `group=NAME=a,b`",
        )
    values = frame[numeric].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.isnan(values).any():
            corr = frame[numeric].astype(float).corr(method="spearman").to_numpy()
        else:
            corr = np.asarray(spearmanr(values).correlation, dtype=float)
            if corr.ndim == 0:  # two features, or every column constant: scipy returns one number
                k = len(numeric)
                corr = np.full((k, k), float(corr))
    corr = np.nan_to_num(corr, nan=0.0)  # constant columns correlate with nothing
    corr = (corr + corr.T) / 2
    np.fill_diagonal(corr, 1.0)
    distance = np.clip(1 - np.abs(corr), 0, None)
    np.fill_diagonal(distance, 0.0)
    linkage = hierarchy.ward(squareform(distance, checks=False))
    labels = hierarchy.fcluster(linkage, threshold, criterion="distance")
    return Clustering(numeric, excluded, corr, linkage, labels, float(threshold))
