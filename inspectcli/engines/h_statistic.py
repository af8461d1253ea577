"""Friedman's H-statistic at data points: which features interact, and how strongly.

Friedman & Popescu (2008, "Predictive learning via rule ensembles", section 8.1) measure the
interaction of two features ``j`` and ``k`` by how much of their joint partial dependence the
two one-way partial dependences leave unexplained, summed over the data points ``x_i``:

    H²_jk = Σ_i [F_jk(x_ij, x_ik) − F_j(x_ij) − F_k(x_ik)]²  /  Σ_i F_jk(x_ij, x_ik)²       (44)

and the interaction of ``j`` with *all* other features (its overall H²) by how much of the model's
output the partial dependence on ``j`` and on all the others leave unexplained:

    H²_j  = Σ_i [f(x_i) − F_j(x_ij) − F_−j(x_i,−j)]²  /  Σ_i f(x_i)²                          (46)

Every function is centred to mean zero over the points (``F ← F − mean_i F``). 0 means the effects
add up; 1 means the joint effect is pure interaction. A ratio is undefined (NaN) where its
denominator is zero (the joint PD is flat) or where the model returned non-finite values.

Each partial dependence is evaluated *at the data points* and averaged over the *same* rows, so
one H² needs ``n²`` model outputs for ``n`` rows: the rows are a seeded subsample (``n_rows``,
default 300, drawn without replacement with ``random_state``). Tree models go through the exact
tree-path engine (:func:`inspectcli.engines.trees.tree_path_responses` with the data points as the
"grid"), which reads which leaves each point and each row can reach instead of predicting the
``n²`` rows; other models are predicted in stacked batches bounded by ``memory_budget``. Both give
the numbers a direct computation of the definition gives (tests compare them to 1e-10).

Screening: the features are ranked by the spread (standard deviation over the rows) of their
one-way partial dependence at the data points, the PD-variance ranking of Greenwell et al. (2018),
and the pairs are ranked by their pure interaction's share of the variance of the model's output,
``Σ_i [F_jk − F_j − F_k]² / Σ_i f(x_i)²``: Friedman's H² divides by the pair's own joint effect,
which makes pairs of two nearly inert features look strongly interacting (noise over noise).
The pairs are those among the ``top_k`` first (``top_k`` features → ``top_k·(top_k−1)/2``
pairs), or every pair (``pairs="all"``), or pairs named by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.engines import trees
from inspectcli.engines.frames import column, feature_names_of, resolve_feature, take_rows
from inspectcli.engines.response import Response, resolve_response
from inspectcli.errors import ComputationError, UsageError, blame_model, raised_in_our_code

__all__ = ["InteractionResult", "h_statistics", "pd_at_points"]

#: Rows H² is computed on by default (n² model outputs per partial dependence).
DEFAULT_ROWS = 300
#: Features screened by default (45 pairs).
DEFAULT_TOP_K = 10


@dataclass
class InteractionResult:
    """H² statistics of one model on one set of rows.

    Attributes
    ----------
    features : tuple of str
        The screened features, strongest one-way effect first.
    spread : ndarray of shape (n_features, n_targets)
        Standard deviation over the rows of each feature's centred one-way PD at the data points
        (the ranking statistic).
    overall : ndarray of shape (n_features, n_targets) or None
        Each feature's overall H² (its interaction with all other features); None when not asked.
    pairs : tuple of (str, str)
        The pairs, in the order of ``pair_h2``.
    pair_h2 : ndarray of shape (n_pairs, n_targets)
        Friedman's H² of each pair (NaN where undefined): the share of the pair's joint effect
        that is interaction. Unstable for pairs with a tiny joint effect.
    pair_share : ndarray of shape (n_pairs, n_targets)
        The pair's pure interaction as a share of the variance of the model's output,
        ``Σ_i [F_jk − F_j − F_k]² / Σ_i f(x_i)²`` (centred): comparable across pairs, and what
        the pairs are ranked by.
    targets : tuple
        The output each last-axis column stands for (class labels, output indices, or ``None``).
    rows : ndarray of shape (n_rows,)
        Positions in ``X`` of the rows the statistics were computed on.
    n_population : int
        Rows of ``X`` the sample was drawn from.
    engine : str
        ``"tree-paths"`` or ``"brute"`` (what computed the partial dependences).
    response_method : str
        The prediction method whose output was used.
    notes : list of str
        What the user should know (undefined values, fallbacks).
    """

    features: tuple[str, ...]
    spread: np.ndarray
    overall: np.ndarray | None
    pairs: tuple[tuple[str, str], ...]
    pair_h2: np.ndarray
    pair_share: np.ndarray
    targets: tuple[Any, ...]
    rows: np.ndarray
    n_population: int
    engine: str
    response_method: str
    notes: list[str] = field(default_factory=list)

    def ranked_pairs(self, target: int = 0) -> list[tuple[tuple[str, str], float]]:
        """Pairs by decreasing share of the output's variance for one target (undefined last)."""
        values = self.pair_share[:, target]
        order = sorted(range(len(self.pairs)), key=lambda i: (np.isnan(values[i]), -np.nan_to_num(values[i])))
        return [(self.pairs[i], float(self.pair_h2[i, target])) for i in order]

    def pair_order(self, target: int = 0) -> list[int]:
        """Indices of ``pairs`` by decreasing share of the output's variance (undefined last)."""
        values = self.pair_share[:, target]
        return sorted(range(len(self.pairs)), key=lambda i: (np.isnan(values[i]), -np.nan_to_num(values[i])))


def _points(X: Any, free: Sequence[int]) -> np.ndarray:
    """The data points' values of the columns ``free``: shape (n, len(free)), object if mixed."""
    cols = [np.asarray(column(X, j)) for j in free]
    kinds = {c.dtype.kind for c in cols}
    if len(cols) == 1:
        return cols[0].reshape(-1, 1)
    if kinds <= set("biuf"):
        return np.column_stack(cols)
    out = np.empty((len(cols[0]), len(cols)), dtype=object)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _unique(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``points`` (first occurrence order) and the inverse map."""
    keys = pd.Series([tuple(p) for p in points.tolist()], dtype=object)
    codes, _ = pd.factorize(keys)
    first = np.unique(codes, return_index=True)[1]
    return points[first], codes


def _brute(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    points: np.ndarray,
    response: Response,
    max_bytes: int,
) -> np.ndarray:
    """PD at each point by predicting X with ``free`` set to it, in stacked chunks."""
    from inspectcli.engines.pd_batched import build_rows

    n = X.shape[0]
    per_row = 8 * (X.shape[1] + response.n_targets + 2) * 3
    chunk = max(1, int(max_bytes // max(1, per_row * n)))
    method = getattr(estimator, response.method)
    out = np.empty((len(points), response.n_targets))
    for start in range(0, len(points), chunk):
        stop = min(len(points), start + chunk)
        rows = build_rows(X, list(free), points, start * n, stop * n)
        with blame_model():
            raw = method(rows)
        values = response.select(raw, leading=1, rows=(stop - start) * n).reshape(
            stop - start, n, response.n_targets
        )
        out[start:stop] = values.mean(axis=1)
    return out


def pd_at_points(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    points: np.ndarray,
    response: Response,
    *,
    engine: str = "auto",
    max_bytes: int = 256 * 2**20,
) -> tuple[np.ndarray, str]:
    """Partial dependence of ``free`` at arbitrary points, averaged over every row of ``X``.

    Parameters
    ----------
    estimator : estimator object
        A fitted model.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The rows the partial dependence averages over.
    free : sequence of int
        Column positions the points set.
    points : ndarray of shape (n_points, len(free))
        One point per row (not a Cartesian grid).
    response : Response
        Which prediction method and output columns (:func:`resolve_response`).
    engine : {"auto", "tree-paths", "brute"}, default="auto"
        ``auto`` uses tree paths where they apply and falls back to predicting when their
        self-check fails.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory.

    Returns
    -------
    average : ndarray of shape (n_points, n_targets)
    engine : str
        The engine that computed it.
    """
    uniq, inverse = _unique(points)
    if engine in ("auto", "tree-paths") and trees.supports_tree_paths(estimator, response.method):
        try:
            avg_raw, _ = trees.tree_path_responses(
                estimator,
                X,
                list(free),
                uniq,
                response_method=response.method,
                individual=False,
                max_bytes=max_bytes,
            )
            return response.select(avg_raw, leading=1)[inverse], "tree-paths"
        except trees.TreePathMismatchError:
            if engine == "tree-paths":
                raise
        except (ValueError, TypeError, IndexError) as exc:
            if raised_in_our_code(exc):
                raise
            raise ComputationError(
                f"the model failed while computing partial dependence: {exc}",
                "this is the estimator's own error",
            ) from exc
    return _brute(estimator, X, free, uniq, response, max_bytes)[inverse], "brute"


def _centred(values: np.ndarray) -> np.ndarray:
    return values - values.mean(axis=0, keepdims=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Σ num² / Σ den² per target (columns); NaN where undefined."""
    top = np.sum(num**2, axis=0)
    bottom = np.sum(den**2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = top / bottom
    bad = ~np.isfinite(bottom) | (bottom <= np.finfo(float).tiny) | ~np.isfinite(top)
    out[bad] = np.nan
    return out


def _sample_rows(n: int, n_rows: int | None, random_state: int | None) -> np.ndarray:
    if n_rows is None or n_rows >= n:
        return np.arange(n)
    rng = np.random.RandomState(random_state)
    return np.sort(rng.choice(n, size=n_rows, replace=False))


def h_statistics(
    estimator: Any,
    X: Any,
    *,
    features: Sequence[str | int] | None = None,
    top_k: int | None = DEFAULT_TOP_K,
    pairs: str | Sequence[tuple[str | int, str | int]] = "top",
    extra_pairs: Sequence[tuple[str | int, str | int]] = (),
    overall: bool = True,
    n_rows: int | None = DEFAULT_ROWS,
    random_state: int | None = 0,
    response_method: str = "auto",
    classes: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    engine: str = "auto",
    max_bytes: int = 256 * 2**20,
) -> InteractionResult:
    """Friedman's H² for pairs of features and each feature's overall H², at data points.

    Parameters
    ----------
    estimator : estimator object
        A fitted regressor or classifier (classifiers: one result per class, binary: the
        positive class, as :func:`inspectcli.partial_dependence`).
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Data the statistics are computed on (a subsample of ``n_rows`` of its rows).
    features : sequence of str or int, default=None
        The candidate features; None: every feature.
    top_k : int or None, default=10
        How many candidates (the largest one-way PD spread first) form the pairs with
        ``pairs="top"``; None: all candidates.
    pairs : {"top", "all"} or sequence of (feature, feature), default="top"
        ``"top"``: every pair among the ``top_k`` features; ``"all"``: every pair of candidates;
        or the pairs to compute.
    extra_pairs : sequence of (feature, feature), default=()
        Pairs computed in addition to ``pairs`` (e.g. those a gate names).
    overall : bool, default=True
        Whether to compute each screened feature's overall H² (its interaction with all others).
    n_rows : int or None, default=300
        Rows drawn (seeded, without replacement) to compute on; None: every row. Each partial
        dependence costs ``n_rows²`` model outputs.
    random_state : int or None, default=0
        Seed of the row sample.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
        As in :func:`inspectcli.partial_dependence`.
    classes : sequence of str, default=None
        Class labels to keep (classifiers).
    feature_names : sequence of str, default=None
        Names for an ndarray's columns (default ``x0, x1, …``).
    engine : {"auto", "tree-paths", "brute"}, default="auto"
        How partial dependences are computed.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory.

    Returns
    -------
    InteractionResult
    """
    if n_rows is not None and (not isinstance(n_rows, (int, np.integer)) or n_rows < 2):
        raise UsageError(f"n_rows must be an integer >= 2, got {n_rows!r}", "e.g. n_rows=300", param="n_rows")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 2):
        raise UsageError(f"`top_k={top_k}` must be an integer >= 2", "e.g. `top_k=10`", param="top_k")
    if engine not in ("auto", "tree-paths", "brute"):
        raise UsageError(f"engine must be auto, tree-paths or brute, got {engine!r}")
    names = feature_names_of(X, feature_names)
    candidates = (
        list(range(len(names))) if features is None else [resolve_feature(f, names) for f in features]
    )
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) < 2:
        raise UsageError(
            "interactions need at least two features", "name two or more `features`", param="features"
        )
    response = resolve_response(estimator, response_method=response_method, classes_wanted=classes)
    n = X.shape[0]
    if n < 2:
        raise UsageError("interactions need at least two rows of data")
    rows = _sample_rows(n, n_rows, random_state)
    Xs = take_rows(X, rows) if len(rows) < n else X
    engines: set[str] = set()

    def pd_of(free: Sequence[int]) -> np.ndarray:
        values, used = pd_at_points(
            estimator, Xs, free, _points(Xs, free), response, engine=engine, max_bytes=max_bytes
        )
        engines.add(used)
        return values

    one = {j: _centred(pd_of([j])) for j in candidates}
    spread = np.array([one[j].std(axis=0) for j in candidates])  # (c, k)
    key = np.nan_to_num(spread.mean(axis=1), nan=-1.0)
    order = sorted(range(len(candidates)), key=lambda i: (-key[i], i))
    ranked = [candidates[i] for i in order]
    spread = spread[order]

    pair_idx: list[tuple[int, int]] = []
    if isinstance(pairs, str):
        if pairs not in ("top", "all"):
            raise UsageError(f"`pairs` must be 'top', 'all' or a list of pairs, got {pairs!r}", param="pairs")
        pool = ranked if pairs == "all" or top_k is None else ranked[:top_k]
        pair_idx = list(itertools.combinations(sorted(pool), 2))
        named: Sequence[tuple[str | int, str | int]] = extra_pairs
    else:
        named = [*pairs, *extra_pairs]
    if named:
        for a, b in named:
            ia, ib = resolve_feature(a, names), resolve_feature(b, names)
            if ia == ib:
                raise UsageError(
                    f"`pairs`: a pair needs two different features, got {names[ia]!r} twice", param="pairs"
                )
            if (ia, ib) in pair_idx or (ib, ia) in pair_idx:
                continue
            for i in (ia, ib):
                if i not in one:
                    one[i] = _centred(pd_of([i]))
            pair_idx.append((ia, ib))
    k = response.n_targets
    method = getattr(estimator, response.method)
    with blame_model():
        full = _centred(response.select(method(Xs), leading=1, rows=Xs.shape[0]))
    pair_h2 = np.full((len(pair_idx), k), np.nan)
    pair_share = np.full((len(pair_idx), k), np.nan)
    for p, (a, b) in enumerate(pair_idx):
        joint = _centred(pd_of([a, b]))
        pair_h2[p] = _ratio(joint - one[a] - one[b], joint)
        pair_share[p] = _ratio(joint - one[a] - one[b], full)

    shown = ranked if pairs == "all" or top_k is None else ranked[: max(top_k, 0)]
    overall_h2 = None
    if overall:
        overall_h2 = np.full((len(shown), k), np.nan)
        for i, j in enumerate(shown):
            rest = [c for c in range(len(names)) if c != j]
            others = _centred(pd_of(rest))
            overall_h2[i] = _ratio(full - one[j] - others, full)

    notes = []
    undefined = int(np.isnan(pair_h2).any(axis=1).sum())
    if undefined:
        notes.append(
            f"H² is undefined for {undefined} pair(s): their joint partial dependence is flat on these "
            "rows, or the model returned non-finite values"
        )
    keep = {j: i for i, j in enumerate(ranked)}
    return InteractionResult(
        features=tuple(names[j] for j in shown),
        spread=spread[[keep[j] for j in shown]],
        overall=overall_h2,
        pairs=tuple((names[a], names[b]) for a, b in pair_idx),
        pair_h2=pair_h2,
        pair_share=pair_share,
        targets=response.targets,
        rows=rows,
        n_population=n,
        engine="tree-paths" if engines == {"tree-paths"} else ("brute" if engines == {"brute"} else "mixed"),
        response_method=response.method,
        notes=notes,
    )
