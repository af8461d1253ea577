"""Responses on PD/ICE grids from tree structure (:func:`tree_path_responses`).

Per tree and free set, grid points are grouped into classes (same frontier nodes reached) and
rows into patterns (same leaves reached); the per-tree ``(pattern, class)`` tables
(``_tables.py``) are added to running sums in the estimator's own order (compiled; see the
package docstring). Averages of models linear in their trees come from packed
split bits (``_bits.py``) where those are cheaper. Here: which path a PD takes, the public entry
points and the run-time self-check against the estimator's own predictions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from inspectcli.engines.bands import SumSq
from inspectcli.engines.trees._bits import Forest, forest_of, n_words, unpack
from inspectcli.engines.trees._model import (
    TreePathMismatchError,
    _agrees,
    _check_rows,
    _Unsupported,
)
from inspectcli.engines.trees._plan import (
    _checked_plan,
    _dense_model,
    _model_space,
    _plan,
    _with_free,
)
from inspectcli.engines.trees._reach import reach_bits
from inspectcli.engines.trees._specs import (
    _Spec,
)
from inspectcli.engines.trees._tables import (
    _chunk_rows,
    _Context,
    _finalize,
    _linear_average,
    _raw_rows,
    _topology,
)

_CHECK_POINTS = 3
#: Per-row outputs computed for the spread alone count as cheap up to this many rows × grid points
#: × trees (about a tenth of a second on one core): :func:`spread_comes_cheap`.
AUTO_SPREAD_WORK = 50_000_000


def _prefers_bits(forest: Forest) -> bool:
    """Split bits (every internal node, once per row) rather than walks (about a depth per row).

    A comparison and a bit are much cheaper than a step of a walk, and the bits are shared by all
    free sets; walks win for trees so large that a row meets a small share of their splits.
    """
    depth = len(forest.levels) - 1
    return forest.n_internal <= 64 * max(depth, 1) * forest.n_trees


@dataclass
class _BitsAverage:
    average: np.ndarray  # (G, *out)
    grid_reach: np.ndarray  # (n_leaves, G) bool
    follow_rows: np.ndarray  # bool per internal rank: rows follow their own values
    bits: np.ndarray | None  # split bits of all rows, when computed in one piece


def _bits_average(
    forest: Forest,
    spec: _Spec,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    init: np.ndarray | None,
    model_free: np.ndarray,
    gcols: np.ndarray,
    gnan: np.ndarray,
    weights: np.ndarray | None,
    total: float,
    max_bytes: int,
) -> _BitsAverage:
    """Weighted average raw output per grid point from the leaves' row weights (split bits).

    Row ``i`` under grid point ``g`` lands in the leaf ``l`` that ``i`` reaches with the free
    splits both ways (``A[i, l]``) and ``g`` reaches with the other splits both ways
    (``B[g, l]``), so the average is ``sum_l v_l * (w @ A)[l] * B[g, l] / total``.
    """
    n = cols.shape[1]
    n_grid = gcols.shape[1]
    free_split = model_free[forest.int_feature]
    # Grid side: free splits follow the grid point, the others go both ways.
    gbits = forest.split_bits(
        gcols, gnan, model_free, out=np.zeros((forest.n_internal, n_words(n_grid)), np.uint64)
    )
    grid_reach = unpack(forest.leaf_reach(gbits, free_split, n_grid), n_grid)  # (L, G)
    follow_rows = ~free_split
    every = np.ones(cols.shape[0], dtype=bool)
    # Trees without a free split: each row in its own leaf, whatever the free set.
    split_trees = np.zeros(forest.n_trees, dtype=bool)
    split_trees[forest.int_tree[free_split]] = True
    own_leaf = ~split_trees[forest.leaf_tree]
    # Row side: rows per chunk so that the bits and a level's temporaries fit half the budget.
    per_row = (forest.n_internal + 3 * forest.max_level) / 8 + 1
    chunk = max(64, int((max_bytes // 2) / per_row) // 64 * 64)
    leaf_w = np.zeros(forest.leaves.size, dtype=np.float64)
    bits = None
    if chunk >= n:
        bits = forest.kept_split_bits(cols, nan_cols, every, max_bytes // 4)
        leaf_w = forest.leaf_weights(bits, follow_rows, n, weights, split_trees)
        if weights is None:
            leaf_w[own_leaf] = forest.kept_plain_counts(bits, n)[own_leaf]
        else:
            leaf_w += forest.leaf_weights(bits, follow_rows, n, weights, ~split_trees)
    else:
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            part = forest.split_bits(np.ascontiguousarray(cols[:, a:b]), nan_cols, ~model_free)
            leaf_w += forest.leaf_weights(part, follow_rows, b - a, None if weights is None else weights[a:b])
            del part
    avg = np.zeros((n_grid, spec.n_raw), dtype=np.float64)
    used = leaf_w != 0
    for out_cols, mask, vals in forest.groups:
        sel = np.flatnonzero(mask & used)
        contrib = grid_reach[sel].T.astype(np.float64) @ (leaf_w[sel, None] * vals[sel])
        avg[:, list(out_cols)] += contrib
    avg /= total
    if init is not None:
        avg += init
    if spec.divisor is not None:
        avg /= spec.divisor
    return _BitsAverage(np.asarray(spec.finalize(avg)), grid_reach, follow_rows, bits)


def _bits_check_raw(
    forest: Forest,
    spec: _Spec,
    cols: np.ndarray,
    nan_cols: np.ndarray,
    init: np.ndarray | None,
    res: _BitsAverage,
    rows: np.ndarray,
    points: np.ndarray,
) -> np.ndarray:
    """Raw outputs ``(len(rows), len(points), n_raw)`` from the reach bits the average used.

    Per tree, (row, point) must meet in exactly one leaf; the check rows' split bits are read from
    the bits of the average (so a wrong or stale bit would show), or computed when those came in
    row chunks.
    """
    if res.bits is not None:
        reach = forest.reach_rows(res.bits, rows, res.follow_rows)
    else:
        sub = np.ascontiguousarray(cols[:, rows])
        small = forest.split_bits(sub, nan_cols, np.ones(cols.shape[0], dtype=bool))
        reach = forest.reach_rows(small, np.arange(rows.size), res.follow_rows)
    hit = reach[:, :, None] & res.grid_reach[:, points][:, None, :]  # (L, rows, points)
    flat = hit.reshape(hit.shape[0], -1)
    for j in range(flat.shape[1]):
        if (np.bincount(forest.leaf_tree, weights=flat[:, j], minlength=forest.n_trees) != 1).any():
            raise TreePathMismatchError("a (row, grid point) pair did not meet in exactly one leaf")
    raw = np.zeros((flat.shape[1], spec.n_raw), dtype=np.float64)
    if init is not None:
        raw += init
    for out_cols, mask, vals in forest.groups:
        sel = np.flatnonzero(mask)
        raw[:, list(out_cols)] += flat[sel].T.astype(np.float64) @ vals[sel]
    if spec.divisor is not None:
        raw /= spec.divisor
    return raw.reshape(rows.size, points.size, spec.n_raw)


def pd_prefers_predicting(estimator: Any, response_method: str, n_grid: int | None = None) -> bool:
    """True when engine="auto" should predict rather than take tree paths for a PD.

    When the grid (``n_grid`` points; None: the default of 100 per feature) is smaller than the
    family's :attr:`_Spec.predicts_faster_below`: CatBoost, which evaluates its oblivious trees in
    ~4 ns per (row, tree) against ~60 ns for a numpy walk, below 32 points. XGBoost (~11 ns per
    (row, tree) in its C++ predictor) once was here for every grid: since the rows' leaf sets are
    keyed during the walk (52ea5a8) tree paths beat its predictions at 10 points (friedman_xgb:
    1.5x scikit-learn's CPU time, classifiers 1.3-1.5x) and by ~10x at 100.
    ``engine="tree-paths"`` takes them all.
    """
    try:
        spec = _plan(estimator, response_method).spec
    except Exception:
        return False
    return n_grid is not None and n_grid < spec.predicts_faster_below


def spread_comes_cheap(
    estimator: Any, response_method: str, n_rows: int, n_points: int, individual: bool
) -> bool:
    """Whether the spread (``tree_path_moments(spread=True)``) costs little beside the average.

    True when the per-row outputs are computed anyway (``individual``, or outputs that are not a
    sum of the trees, such as probabilities), or when they are few: ``n_rows × n_points × trees``
    (``n_points`` the grid points of all the feature sets) at most :data:`AUTO_SPREAD_WORK`.
    """
    if individual:
        return True
    try:
        spec = _plan(estimator, response_method).spec
    except Exception:
        return True
    return not spec.linear or n_rows * n_points * len(spec.trees) <= AUTO_SPREAD_WORK


def supports_tree_paths(estimator: Any, response_method: str) -> bool:
    """Whether :func:`tree_path_responses` can reproduce ``response_method`` exactly.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator. Supported: HistGradientBoosting{Regressor,Classifier},
        GradientBoosting{Regressor,Classifier} (init ``"zero"`` or a constant Dummy
        estimator), RandomForest{Regressor,Classifier}, ExtraTrees{Regressor,Classifier},
        DecisionTree{Regressor,Classifier} and ExtraTree{Regressor,Classifier}, LightGBM's
        LGBM{Regressor,Classifier}, XGBoost's XGB{Regressor,Classifier} and CatBoost's
        CatBoost{Regressor,Classifier} (not CTRs of feature combinations; see ``_lightgbm.py``,
        ``_xgboost.py`` and ``_catboost.py`` for the objectives taken) (exact
        classes, not subclasses), and ``Pipeline`` objects ending in one of those whose
        earlier steps are whitelisted column-wise transformers (ColumnTransformer,
        OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler, MaxAbsScaler,
        RobustScaler, SimpleImputer, 'passthrough', nested Pipelines of these).
    response_method : {"predict", "predict_proba", "decision_function"}
        Regressors support ``"predict"``; classifiers support ``"predict_proba"`` (single
        output only) and, for boosting, ``"decision_function"``.  A classifier's
        ``"predict"`` (class labels) is not supported.

    Returns
    -------
    bool
        True when supported.
    """
    try:
        _plan(estimator, response_method)
    except (_Unsupported, AttributeError, TypeError, ValueError):
        return False
    return True


def tree_path_responses(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    grid: np.ndarray,
    *,
    response_method: str,
    individual: bool,
    sample_weight: np.ndarray | None = None,
    max_bytes: int = 256 * 2**20,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`tree_path_moments` without the spread: ``(average, individual)``."""
    average, ind, _ = tree_path_moments(
        estimator,
        X,
        free,
        grid,
        response_method=response_method,
        individual=individual,
        sample_weight=sample_weight,
        max_bytes=max_bytes,
    )
    return average, ind


def tree_path_moments(
    estimator: Any,
    X: Any,
    free: Sequence[int],
    grid: np.ndarray,
    *,
    response_method: str,
    individual: bool,
    sample_weight: np.ndarray | None = None,
    max_bytes: int = 256 * 2**20,
    spread: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Responses of a tree model on every grid point, computed from the trees' structure.

    For every grid point ``g`` this gives the numbers ``getattr(estimator,
    response_method)(X_g)`` would give, where ``X_g`` is ``X`` with the columns at
    positions ``free`` set to ``grid[g]``.

    Parameters
    ----------
    estimator : estimator object
        A fitted estimator for which :func:`supports_tree_paths` is True.
    X : DataFrame or ndarray of shape (n_samples, n_features)
        The data, exactly as the estimator takes it.
    free : sequence of int
        Column positions in ``X`` set by the grid.
    grid : ndarray of shape (G, len(free))
        One grid point per row (object dtype allowed for mixed columns).  For DataFrames,
        grid values are written with pandas setitem semantics; a numeric column that
        cannot hold a value exactly is upcast to hold it.
    response_method : {"predict", "predict_proba", "decision_function"}
        The method whose output is reproduced.
    individual : bool
        Whether to also return the per-row outputs.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights for the average over rows, as in ``np.average``.
    max_bytes : int, default=256 MiB
        Approximate bound on temporary memory (the returned arrays are not counted).
    spread : bool, default=False
        Also return ``Σ_i w_i² (output_i − average)²`` per grid point (engines/bands.py), from
        the per-row outputs block by block (they are computed, even for models whose average
        alone would not need them: about ten times the time of such an average; see
        :func:`spread_comes_cheap`).

    Returns
    -------
    average : ndarray of shape (G, *out)
        ``np.average(output_g, axis=0, weights=sample_weight)`` for every grid point, where
        ``out`` is ``()`` for 1-d outputs and ``(k,)`` for outputs of shape ``(n, k)``.
    individual : ndarray of shape (G, n_samples, *out) or None
        The per-row outputs when ``individual=True``.
    sum_sq : ndarray of shape (G, *out) or None
        The weighted sum of squared deviations when ``spread=True``.

    Raises
    ------
    ValueError
        If the estimator is not supported or the arguments are inconsistent (and whatever
        the estimator's own validation raises, e.g. for NaN it does not accept).
    TypeError
        If ``X`` is a sparse matrix.
    TreePathMismatchError
        If the self-check against the estimator's real predictions fails.
    """
    plan = _checked_plan(estimator, response_method)
    spec = plan.spec
    if sp.issparse(X):
        raise TypeError("sparse X is not supported; pass a dense array or a DataFrame")
    free = [int(f) for f in free]
    n_features = X.shape[1]
    if len(set(free)) != len(free) or any(f < 0 or f >= n_features for f in free):
        raise ValueError(f"invalid free columns {free}")
    grid = np.asarray(grid)
    if grid.ndim == 1 and len(free) == 1:
        grid = grid.reshape(-1, 1)
    if grid.ndim != 2 or grid.shape[1] != len(free):
        raise ValueError(f"grid must have shape (G, {len(free)}), got {grid.shape}")
    n = X.shape[0]
    n_grid = grid.shape[0]
    if n == 0 or n_grid == 0:
        raise ValueError("X and grid must be non-empty")
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (n,):
            raise ValueError("sample_weight must have shape (n_samples,)")
    total = float(n) if weights is None else float(weights.sum())
    if total == 0.0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")

    # Model space: transform X once and the G grid rows once (valid because the prefix is
    # column-wise and row-wise), and find the model columns fed by the free inputs.
    space = _model_space(plan, X)
    x_grid = _with_free(X, np.zeros(n_grid, dtype=np.intp), free, grid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings were raised for X just above
        gt = x_grid if plan.prefix is None else plan.prefix.transform(x_grid)
        _, gcols = _dense_model(spec, gt)
    model_free = np.isin(space.source, free)
    gnan = np.isnan(gcols).any(axis=1)
    # Averages without ICE come from packed split bits when that is cheaper; with the spread the
    # per-row outputs are computed below for it alone, and the average stays this one (the same
    # number whether the spread is asked for or not).
    bits_average = None
    if not individual and spec.linear and spec.raw_dtype is np.float64 and spec.trees:
        forest = forest_of(spec)
        if _prefers_bits(forest):
            res = _bits_average(
                forest,
                spec,
                space.cols,
                space.nan_cols,
                space.init,
                model_free,
                gcols,
                gnan,
                weights,
                total,
                int(max_bytes),
            )
            rows, points = _check_pairs(n, n_grid)
            raw = _bits_check_raw(forest, spec, space.cols, space.nan_cols, space.init, res, rows, points)
            ours = _finalize(spec, raw).swapaxes(0, 1)
            _compare(estimator, response_method, X, free, grid, rows, points, ours)
            if not spread:
                return res.average, None, None
            bits_average = res.average
    topos = [_topology(tree, model_free, gcols, gnan) for tree in spec.trees]
    ctx = _Context(
        spec=spec,
        topos=topos,
        cols=space.cols,
        nan_cols=space.nan_cols,
        init=space.init,
        n_grid=n_grid,
    )

    ind = None
    sums = SumSq() if spread else None
    if individual or spread or not spec.linear:
        # Row chunks bound the (chunk, G, n_raw) temporaries and the per-tree tables.
        # the spread's two temporaries of the chunk's size: a quarter of the budget
        chunk = _chunk_rows(spec, n, n_grid, int(max_bytes) * 3 // 4 if spread else int(max_bytes))
        acc = None
        for start in range(0, n, chunk):
            sel = slice(start, min(n, start + chunk))
            out = _finalize(spec, _raw_rows(ctx, sel, int(max_bytes)))
            if ind is None and individual:
                ind = np.empty((n_grid, n, *out.shape[2:]), dtype=out.dtype)
            if individual:
                ind[:, sel] = np.swapaxes(out, 0, 1)
            w = np.ones(out.shape[0]) if weights is None else weights[sel]
            part = np.tensordot(w, out, axes=(0, 0))
            acc = part if acc is None else acc + part
            if sums is not None:
                sums.add(np.asarray(out, dtype=np.float64), None if weights is None else weights[sel])
        average = acc / total
        if spec.linear and not individual:
            # per-row outputs for the spread only: the average stays the one computed without
            # them, so that it is the same number whether the spread is asked for or not
            average = _linear_average(ctx, weights, total) if bits_average is None else bits_average
    else:
        average = _linear_average(ctx, weights, total)

    _self_check(estimator, response_method, X, free, grid, ctx, ind)
    return average, ind, None if sums is None else sums.finish(average)


def _check_raw(ctx: _Context, rows: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Raw outputs ``(len(rows), len(points), n_raw)`` of a few rows at a few grid points.

    Per tree, the leaf of (row, point) is the one leaf the row can reach (free splits both ways)
    whose frontier the point's class reaches.
    """
    spec = ctx.spec
    cols = np.ascontiguousarray(ctx.cols[:, rows])
    has_nan = bool(np.isnan(cols).any())
    # in the estimator's own type (float32 for XGBoost: float64 addends round as float32 additions)
    raw = np.zeros((rows.size, points.size, spec.n_raw), dtype=spec.raw_dtype)
    if ctx.init is not None:
        raw += ctx.init
    for tree, topo in zip(spec.trees, ctx.topos, strict=True):
        reach = reach_bits(tree, cols, has_nan, topo.follow_rows)  # (n_leaves, rows)
        leaves = tree.leaf_paths.leaves
        by_class = topo.bt[:, topo.g_class[points]]
        by_class = by_class.toarray() if sp.issparse(by_class) else by_class
        hit = reach[:, :, None] & (by_class[topo.front_of[leaves]] != 0)[:, None, :]
        if (hit.sum(axis=0) != 1).any():
            raise TreePathMismatchError("a (row, grid point) pair did not meet in exactly one leaf")
        leaf = leaves[np.argmax(hit, axis=0)]  # (rows, points)
        raw[:, :, list(tree.out_cols)] += tree.values[leaf]
    if spec.divisor is not None:
        raw /= spec.divisor
    return raw


def _self_check(
    estimator: Any,
    response_method: str,
    X: Any,
    free: list[int],
    grid: np.ndarray,
    ctx: _Context,
    ind: np.ndarray | None,
) -> None:
    """Compare a few (row, grid point) pairs with the estimator's own response method."""
    rows, points = _check_pairs(ctx.cols.shape[1], ctx.n_grid)
    if ind is None:
        # The pairs from the rows' reachable leaves (one comparison per split and row, whatever
        # the size of X): checks the model as read, the grid classes and the frontiers.
        ours = _finalize(ctx.spec, _check_raw(ctx, rows, points)).swapaxes(0, 1)
    else:
        ours = ind[points][:, rows]
    _compare(estimator, response_method, X, free, grid, rows, points, ours)


def _check_pairs(n: int, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and grid points of the self-check."""
    rows = _check_rows(n)
    points = np.linspace(0, n_grid - 1, min(n_grid, _CHECK_POINTS))
    return rows, np.unique(points.round().astype(np.intp))


def _compare(
    estimator: Any,
    response_method: str,
    X: Any,
    free: list[int],
    grid: np.ndarray,
    rows: np.ndarray,
    points: np.ndarray,
    ours: np.ndarray,
) -> None:
    """``ours`` ``(len(points), len(rows), *out)`` against the estimator's own response method."""
    rr = np.tile(rows, points.size)
    gg = np.repeat(points, rows.size)
    x_check = _with_free(X, rr, free, grid[gg])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(getattr(estimator, response_method)(x_check), dtype=np.float64)
    ours = ours.reshape((rr.size, *ours.shape[2:]))
    if not _agrees(ours, ref):
        what = f"the estimator's own {response_method}"
        raise TreePathMismatchError(f"tree-path responses disagree with {what} on a self-check")
