"""ICE curves grouped by shape: k-means on the curves, each centred on its own mean.

An average (the PD) hides rows whose curves go different ways. Centring each ICE curve on its
mean over the grid removes its level, so k-means (scikit-learn's ``KMeans``, Lloyd, seeded, a
fixed ``n_init``) groups the curves by shape alone: rising vs falling, steep vs flat. Each
cluster is reported with its size and its mean curve (the mean of its members' curves as given,
so in the units of the ICE lines: centred at the first grid point when they are). Clusters are
numbered by size, largest first (ties: by the first value of their mean shape), so the numbers
do not depend on k-means' internal labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspectcli.errors import UsageError

#: k-means restarts (fixed, so results do not depend on scikit-learn's default)
N_INIT = 10


@dataclass
class IceClusters:
    """Clusters of ICE curves.

    ``labels`` has shape (n_lines,): the cluster (0 … k−1) of each curve; ``sizes`` (k,);
    ``means`` (k, n_grid): each cluster's mean curve.
    """

    k: int
    labels: np.ndarray
    sizes: np.ndarray
    means: np.ndarray
    random_state: int

    def as_json(self) -> dict[str, object]:
        return {
            "k": self.k,
            "method": f"k-means on each ICE curve minus its mean (n_init={N_INIT}, random_state "
            f"{self.random_state}); clusters numbered by size",
            "sizes": [int(n) for n in self.sizes],
            "means": self.means.tolist(),
            "labels": [int(v) for v in self.labels],
        }


def check_k(k: int, n_lines: int) -> None:
    """A usage error unless 2 ≤ ``k`` ≤ ``n_lines``."""
    if k < 2:
        raise UsageError(f"`ice_clusters={k}` must be at least 2", "e.g. `ice_clusters=3`")
    if k > n_lines:
        raise UsageError(
            f"`ice_clusters={k}` is more than the {n_lines:,} ICE curves to cluster",
            "ask for fewer clusters (or keep more rows with `ice_rows`)",
        )


def cluster_ice(individual: np.ndarray, k: int, *, random_state: int) -> IceClusters:
    """Cluster one-way ICE curves by shape.

    Parameters
    ----------
    individual : ndarray of shape (n_lines, n_grid)
        ICE curves (NaN / inf, where the model gave them, count as 0 after centring).
    k : int
        Number of clusters (2 ≤ k ≤ n_lines).
    random_state : int
        Seed of k-means.

    Returns
    -------
    IceClusters
    """
    from sklearn.cluster import KMeans

    curves = np.asarray(individual, dtype=float)
    check_k(k, curves.shape[0])
    shapes = curves - np.nanmean(np.where(np.isfinite(curves), curves, np.nan), axis=1, keepdims=True)
    shapes = np.where(np.isfinite(shapes), shapes, 0.0)
    n_distinct = len(np.unique(np.round(shapes, 12), axis=0))
    if n_distinct < k:
        raise UsageError(
            f"`ice_clusters={k}`: the ICE curves have only {n_distinct} distinct shape(s)",
            f"ask for at most {n_distinct} clusters",
        )
    km = KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state, algorithm="lloyd")
    raw = km.fit_predict(shapes)
    sizes = np.bincount(raw, minlength=k)
    firsts = np.array([shapes[raw == j].mean(axis=0)[0] for j in range(k)])
    order = sorted(range(k), key=lambda j: (-sizes[j], firsts[j], j))
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels = relabel[raw]
    means = np.stack([curves[labels == j].mean(axis=0) for j in range(k)])
    return IceClusters(k, labels, np.bincount(labels, minlength=k), means, random_state)
