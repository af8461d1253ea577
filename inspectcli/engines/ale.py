"""Accumulated Local Effects (Apley & Zhu 2020): feature effects that stay honest when features
are correlated.

A partial dependence curve sets a feature to each grid value in *every* row, so with correlated
features it averages predictions at points the data never has (scikit-learn's user guide warns
about this for permutation importance in 5.2.3; it applies to 5.1 as well). First-order ALE only
moves a row within the small bin its own value lies in, and averages the prediction differences
across the bin's rows:

- **numeric features**: bin edges are the quantiles of the feature at ``0, 1/B, …, 1`` (``B =
  bins``, quantile type 1, the inverse of the empirical CDF, as the paper's ALEPlot R package
  takes them, so edges are values found in the data), repeated edges merged. A row with value
  ``x`` in bin ``k = (z_{k−1}, z_k]`` (the first bin closed on the left) contributes
  ``f(z_k, rest) − f(z_{k−1}, rest)``; the bin's mean difference is its local effect, and the
  ALE at the edges is their running sum from 0 at ``z_0``.
- **categorical features**: levels are put in an order and each adjacent pair's local effect is
  the mean of ``f(next) − f(this)`` over the rows of both levels (as PyALE and R's ALEPlot do).
  The order: the categories' order for an ordered pandas Categorical; the order given in
  ``orders``; otherwise by similarity of the *other* features' distributions among the levels'
  rows (Apley & Zhu; Molnar; engines/level_order.py). Reversing an order gives the same effects,
  so only which levels are neighbours matters. With no other feature the levels keep their
  sorted order.
- **centering**: the curve is shifted to mean zero over the data, weighted by bin counts, as in
  the paper, ALEPython, PyALE and alibi: numeric features by the count-weighted mean of each
  bin's average of its two edge values, categorical ones by the count-weighted mean over levels.
  For a linear model ``f = c·x + …`` the ALE at the edges is ``c·(z − x̄_b)``, ``x̄_b`` the
  count-weighted mean of the bin midpoints (≈ the mean of x).
- **missing values**: rows where the feature is missing (or infinite) belong to no bin and are
  left out of that feature's ALE (``n_missing`` says how many); missing values in other
  features are passed to the model as they are.
- **sample weights** weight the bin averages and the centering; the bin edges stay unweighted
  quantiles.

**bands** (``standard_error``, ``bootstrap``; engines/bands.py): the delta-method standard error
of the centred curve from each bin's mean local effect (``std of the bin's differences (ddof=1) /
√n_bin``, bins independent because rows are; a categorical middle level's rows feed both of its
pairs, which the covariance counts), pushed through the running sum and the centring with bin
edges and centring weights held fixed; and a seeded percentile bootstrap over rows that
recomputes the curve from the same prediction differences (no new predictions).

Classifiers give one curve per class (binary: the positive class), regressors one per output,
as partial dependence does (engines/response.py). The predictions are stacked into few, large
calls sized by engines/batching.py and spread over workers by engines/parallel.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inspectcli.engines.bands import (
    DEFAULT_LEVEL,
    Bootstrap,
    LocalEffects,
    ale_bootstrap,
    ale_se,
    check_band_options,
)
from inspectcli.engines.batching import measure_bytes_per_row, plan_chunks
from inspectcli.engines.execution import Execution
from inspectcli.engines.finite import flag_ale
from inspectcli.engines.frames import (
    assemble,
    check_sample_weight,
    column,
    feature_names_of,
    like_column,
    resolve_feature,
    take_rows,
    widen_integer_columns,
)
from inspectcli.engines.grid import is_categorical_dtype
from inspectcli.engines.level_order import level_distances, mds_order, numeric_values
from inspectcli.engines.progress import Progress
from inspectcli.engines.response import Response, resolve_response
from inspectcli.engines.worker_data import derive
from inspectcli.errors import InspectError, UsageError, blame_model, model_failed
from inspectcli.introspect import task_of


@dataclass
class ALEResult:
    """First-order ALE of one feature, for every target of the model.

    ``ale`` has shape (n_targets, len(grid)): values at the bin edges (numeric) or at the levels
    in their order (categorical). ``counts`` holds the rows per bin (len(grid) − 1) or per level.
    """

    feature: str
    feature_index: int
    categorical: bool
    grid: np.ndarray
    ale: np.ndarray
    counts: np.ndarray
    targets: tuple[Any, ...]
    response_method: str
    n_missing: int = 0
    order: str | None = None  # categorical: "categories" | "given" | "similarity" | "sorted"
    pdp: np.ndarray | None = None  # (n_targets, len(grid)) PD on the same grid, centred alike
    weights: np.ndarray | None = None  # summed sample weight per bin / level (centering weights)
    non_finite: str | None = None  # where the model returned NaN / inf (engines/finite.py)
    se: np.ndarray | None = None  # (n_targets, len(grid)) delta-method standard error (engines/bands.py)
    bootstrap: Bootstrap | None = None  # percentile interval, lower / upper (n_targets, len(grid))


@dataclass
class _Plan:
    """The virtual rows of one feature: which data row, with which value in the feature.

    A numeric feature's virtual rows are every valid row at its bin's lower edge, then every
    valid row at its upper edge: they are formed per chunk (:meth:`chunk`) from ``valid`` and
    ``codes``, not held (two int64 and two float64 arrays of 2 × n_rows per feature otherwise).
    """

    j: int
    categorical: bool
    grid: np.ndarray
    rows: np.ndarray | None  # (m,) data row of each virtual row (categorical; None: numeric)
    values: np.ndarray | None  # (m,) the feature's value in it
    order: str | None
    n_missing: int
    # numeric: bin of each valid row (1..B); categorical: level position of each valid row
    codes: np.ndarray
    valid: np.ndarray  # positions of the rows that take part

    @property
    def size(self) -> int:
        """The number of virtual rows."""
        return 2 * len(self.valid) if self.rows is None else len(self.rows)

    def chunk(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Data rows and feature values of virtual rows [a, b) (clipped to the rows there are)."""
        if self.rows is not None:
            assert self.values is not None
            return self.rows[a:b], self.values[a:b]
        n = len(self.valid)
        b = min(b, 2 * n)
        p = np.arange(min(a, b), b)
        upper = p >= n
        p[upper] -= n
        codes = self.codes[p]
        return self.valid[p], self.grid[codes - 1 + upper]


def quantile_edges(x: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges: the type-1 quantiles at 0, 1/bins, …, 1, repeated values merged.

    The type-1 quantile at k/bins of n sorted values is the value of rank ⌈n·k/bins⌉ (the
    minimum at 0), computed in integers: a float 0.6000000000000001 would take the next rank.
    """
    xs = np.sort(np.asarray(x, dtype=float))
    n = len(xs)
    k = np.arange(bins + 1)
    rank = np.maximum(-(-n * k // bins), 1)  # ceil(n·k/bins), at least 1
    return np.unique(xs[rank - 1])


def bin_codes(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: k (1-based) for x in (edges[k-1], edges[k]]; the first bin is closed."""
    return np.clip(np.searchsorted(edges, x, side="left"), 1, len(edges) - 1)


def _levels(col: Any, mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """Distinct values present (sorted when possible); True when an ordered Categorical fixed them."""
    dtype = getattr(col, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):
        present = set(pd.Series(col)[mask].tolist())
        levels = [c for c in dtype.categories if c in present]
        return np.asarray(levels, dtype=object), bool(dtype.ordered)
    values = np.asarray(col)[mask]
    try:
        return np.unique(values), False
    except TypeError:
        uniq = dict.fromkeys(values.tolist())
        return np.asarray(sorted(uniq, key=str), dtype=object), False


def _match_levels(given: Sequence[Any], levels: np.ndarray, name: str) -> np.ndarray:
    text = {str(v): i for i, v in enumerate(levels.tolist())}
    order = []
    for g in given:
        if str(g) not in text:
            raise UsageError(
                f"`order={name}`: '{g}' is not a level of '{name}' in the data",
                f"levels are {', '.join(map(str, levels[:12]))}",
            )
        order.append(text[str(g)])
    missing = [str(v) for i, v in enumerate(levels.tolist()) if i not in order]
    if missing or len(set(order)) != len(order):
        raise UsageError(
            f"`order={name}` must list every level of '{name}' once",
            f"missing: {', '.join(missing[:12])}" if missing else "a level is listed twice",
        )
    return np.asarray(order)


def _plan_numeric(X: Any, j: int, name: str, bins: int, every: np.ndarray | None = None) -> _Plan:
    """``every``: ``np.arange(n_rows)``, shared by the features with no missing value."""
    x = numeric_values(column(X, j))
    ok = np.isfinite(x)
    if every is not None and ok.all():
        valid, xv = every, x
    else:
        valid = np.flatnonzero(ok)
        xv = x[ok]
    if xv.size == 0:
        raise UsageError(f"feature '{name}' has only missing values", "choose another feature")
    if np.unique(xv).size < 2:
        raise UsageError(
            f"feature '{name}' is constant (every row is {xv[0]!r}): it has no local effect",
            "choose another feature",
        )
    edges = quantile_edges(xv, bins)
    codes = bin_codes(xv, edges)
    return _Plan(j, False, edges, None, None, None, int((~ok).sum()), codes, valid)


def _plan_categorical(X: Any, j: int, name: str, given: Sequence[Any] | None) -> _Plan:
    col = column(X, j)
    as_objects = col.to_numpy(dtype=object) if isinstance(col, pd.Series) else np.asarray(col, dtype=object)
    mask = ~np.asarray(pd.isna(as_objects), dtype=bool)
    levels, ordered = _levels(col, mask)
    if len(levels) < 2:
        raise UsageError(
            f"feature '{name}' has {len(levels)} level(s) in the data: it has no local effect",
            "choose another feature",
        )
    valid = np.flatnonzero(mask)
    raw = as_objects[valid]
    lookup = {v: i for i, v in enumerate(levels.tolist())}
    try:
        codes = np.asarray([lookup[v] for v in raw.tolist()])
    except (KeyError, TypeError):
        lookup = {str(v): i for i, v in enumerate(levels.tolist())}
        codes = np.asarray([lookup[str(v)] for v in raw.tolist()])
    if given is not None:
        perm, how = _match_levels(given, levels, name), "given"
    elif ordered:
        perm, how = np.arange(len(levels)), "categories"
    else:
        D = level_distances(X, j, codes, valid, len(levels))
        perm = mds_order(D)
        how = "similarity" if X.shape[1] > 1 and np.any(D > 0) else "sorted"
    rank = np.empty(len(perm), dtype=int)
    rank[perm] = np.arange(len(perm))
    levels = levels[perm]
    codes = rank[codes]
    K = len(levels)
    up = codes < K - 1
    down = codes > 0
    rows = np.concatenate([valid, valid[up], valid[down]])
    values = np.concatenate([levels[codes], levels[codes[up] + 1], levels[codes[down] - 1]])
    return _Plan(j, True, levels, rows, values, how, int((~mask).sum()), codes, valid)


def _predict_rows(
    estimator: Any, X: Any, response: Response, j: int, rows: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Predictions of rows ``rows`` of X with feature j set to ``values``: (m, n_targets)."""
    replace = {j: like_column(values, X.iloc[:, j]) if hasattr(X, "iloc") else values}
    batch = assemble(X, rows, replace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw = getattr(estimator, response.method)(batch)
    return np.asarray(response.select(raw, rows=len(rows)), dtype=np.float64)


def _weighted_mean(values: np.ndarray, groups: np.ndarray, n_groups: int, w: np.ndarray) -> np.ndarray:
    """Per group, the weighted mean of values (m, k); 0 for empty groups."""
    sums = np.zeros((n_groups, values.shape[1]))
    np.add.at(sums, groups, values * w[:, None])
    tot = np.zeros(n_groups)
    np.add.at(tot, groups, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / tot[:, None]
    return np.where(tot[:, None] > 0, out, 0.0)


def center(values: np.ndarray, weights: np.ndarray, categorical: bool) -> np.ndarray:
    """Shift curves (k, G) to a zero weighted mean, as ALE is centred.

    Numeric: ``weights`` are per bin (G − 1), each bin valued at the mean of its two edges;
    categorical: per level (G).
    """
    values = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if categorical:
        level = values
    else:
        level = (values[:, :-1] + values[:, 1:]) / 2
    c = (level * w[None, :]).sum(axis=1) / w.sum()
    return values - c[:, None]


@np.errstate(invalid="ignore", over="ignore")  # a model's NaN / inf: reported as such, not as numpy warnings
def _finish(
    plan: _Plan, preds: np.ndarray, sample_weight: np.ndarray | None, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LocalEffects]:
    """ALE (k, G), counts, weight sums and the local effects behind them, from a plan's predictions."""
    n = len(plan.valid)
    w = np.ones(n) if sample_weight is None else sample_weight[plan.valid]
    G = len(plan.grid)
    center_of = np.full(n_rows, -1, dtype=np.intp)
    if not plan.categorical:
        diffs = preds[n:] - preds[:n]
        n_bins = G - 1
        local = _weighted_mean(diffs, plan.codes - 1, n_bins, w)  # (B, k)
        ale = np.vstack([np.zeros((1, local.shape[1])), np.cumsum(local, axis=0)]).T  # (k, G)
        counts = np.bincount(plan.codes - 1, minlength=n_bins)
        wsum = np.bincount(plan.codes - 1, weights=w, minlength=n_bins)
        center_of[plan.valid] = plan.codes - 1
        effects = LocalEffects(plan.valid, plan.codes - 1, diffs, w, n_bins, local, False, center_of, n_rows)
        return center(ale, wsum, False), counts, wsum, effects
    codes = plan.codes
    up, down = codes < G - 1, codes > 0
    base = preds[:n]
    n_up = int(up.sum())
    d_up = preds[n : n + n_up] - base[up]  # f(next) − f(this), rows of the lower level
    d_down = base[down] - preds[n + n_up :]  # f(this) − f(previous), rows of the upper level
    pairs = np.concatenate([codes[up], codes[down] - 1])  # pair k joins levels k and k+1
    diffs = np.vstack([d_up, d_down])
    pw = np.concatenate([w[up], w[down]])
    local = _weighted_mean(diffs, pairs, G - 1, pw)
    ale = np.vstack([np.zeros((1, local.shape[1])), np.cumsum(local, axis=0)]).T
    counts = np.bincount(codes, minlength=G)
    wsum = np.bincount(codes, weights=w, minlength=G)
    center_of[plan.valid] = codes
    rows = np.concatenate([plan.valid[up], plan.valid[down]])
    effects = LocalEffects(rows, pairs, diffs, pw, G - 1, local, True, center_of, n_rows)
    return center(ale, wsum, True), counts, wsum, effects


def accumulated_local_effects(
    estimator: Any,
    X: Any,
    features: str | int | Sequence[str | int],
    *,
    feature_names: Sequence[str] | None = None,
    categorical_features: Sequence[str | int] | None = None,
    bins: int = 20,
    orders: Mapping[str, Sequence[Any]] | None = None,
    response_method: str = "auto",
    classes: Sequence[str] | None = None,
    sample_weight: np.ndarray | None = None,
    with_pdp: bool = False,
    execution: Execution | None = None,
    standard_error: bool = False,
    bootstrap: int = 0,
    band_level: float = DEFAULT_LEVEL,
    random_state: int = 0,
) -> list[ALEResult]:
    """First-order accumulated local effects of each feature.

    Parameters
    ----------
    estimator : fitted regressor or classifier (pipelines included)
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Rows to compute the effects over, as the estimator takes them.
    features : name or index, or a sequence of them
    feature_names : names of ndarray columns (default x0, x1, …)
    categorical_features : names or indices treated as categorical (text, category and bool
        columns are in any case)
    bins : int
        Quantile bins of numeric features (fewer when quantiles repeat).
    orders : {feature name: levels in order}, optional
        The order of a categorical feature's levels (every level, once).
    response_method : {"auto", "predict_proba", "decision_function"}
    classes : class labels (as text) to keep; default every class (binary: the positive one)
    sample_weight : ndarray of shape (n_samples,), optional
    with_pdp : also compute the partial dependence on the same grid, centred the same way
    execution : Execution, default=Execution()
        Memory budget, workers, backend, Dask scheduler and progress, as for partial dependence.
    standard_error : fill ``ALEResult.se``, the delta-method standard error of the centred curve
    bootstrap : fill ``ALEResult.bootstrap`` with the percentile interval of this many resamples of
        the rows (seeded with ``random_state``, coverage ``band_level``), recomputed from the same
        prediction differences

    Returns
    -------
    list of ALEResult, one per feature, in the order given.
    """
    if bins < 1:
        raise UsageError(f"`bins={bins}` must be at least 1")
    check_band_options(bootstrap, band_level, standard_error=standard_error, random_state=random_state)
    task = task_of(estimator)
    if task.kind == "other":
        raise UsageError(
            f"{type(estimator).__name__} is neither a regressor nor a classifier",
            "accumulated local effects need one",
        )
    execution = Execution.of(execution)
    names = feature_names_of(X, feature_names)
    n = X.shape[0]
    sample_weight = check_sample_weight(sample_weight, n)
    specs = [features] if isinstance(features, (str, int, np.integer)) else list(features)
    if not specs:
        raise UsageError("no features given", "name at least one with `features`")
    idx = list(dict.fromkeys(resolve_feature(f, names) for f in specs))
    cats = {resolve_feature(c, names) for c in categorical_features or ()}
    orders = dict(orders or {})
    for key in orders:
        k = resolve_feature(key, names)
        if k not in idx:
            raise UsageError(f"`order` names '{key}', which is not among the features computed")
    response = resolve_response(estimator, response_method=response_method, classes_wanted=classes)

    plans = []
    every = np.arange(n)
    for j in idx:
        col = column(X, j)
        if j in cats or is_categorical_dtype(col):
            plans.append(_plan_categorical(X, j, names[j], orders.get(names[j])))
        else:
            if names[j] in orders:
                raise UsageError(f"`order` applies to categorical features; '{names[j]}' is numeric")
            plans.append(_plan_numeric(X, j, names[j], bins, every))

    if bootstrap:
        from inspectcli.engines.estimate import check_bootstrap_request

        check_bootstrap_request(
            n_boot=bootstrap,
            values_per_resample=max(len(p.grid) for p in plans) * response.n_targets,
            n_rows=n,
            option=f"`bootstrap={bootstrap}`",
        )
    # With --with-pdp two computations follow each other: one Dask cluster for both.
    with execution.sharing(with_pdp) as on, on.reporting() as progress:
        found: list[ALEResult | None] = [None] * len(plans)

        def finish(i: int, pr: np.ndarray) -> None:
            # Each feature as soon as its predictions are in (and they are let go): memory holds
            # one feature's predictions at a time, not every feature's.
            plan = plans[i]
            ale, counts, wsum, effects = _finish(plan, pr, sample_weight, n)
            se = ale_se(effects, wsum) if standard_error else None
            boot = None
            if bootstrap:
                boot = ale_bootstrap(
                    effects, bootstrap, random_state, band_level, max_bytes=execution.memory_budget
                )
            found[i] = ALEResult(
                feature=names[plan.j],
                feature_index=plan.j,
                categorical=plan.categorical,
                grid=plan.grid,
                ale=ale,
                counts=counts,
                targets=response.targets,
                response_method=response.method,
                n_missing=plan.n_missing,
                order=plan.order,
                weights=wsum,
                se=se,
                bootstrap=boot,
            )

        _predict_plans(estimator, X, plans, response, on, progress, finish)
        results = [r for r in found if r is not None]
        assert len(results) == len(plans)  # (every plan has rows: a feature without any is an error)
        if with_pdp:
            _add_pdp(
                estimator,
                X,
                results,
                names,
                response_method,
                classes,
                sample_weight,
                on.within(progress),
            )
    return flag_ale(results)


def _predict_plans(
    estimator: Any,
    X: Any,
    plans: list[_Plan],
    response: Response,
    execution: Execution,
    progress: Progress,
    done: Any,
) -> None:
    """Predictions of every plan's virtual rows, in chunks under the memory budget.

    ``done(i, predictions)`` is called with plan i's predictions, shape (size, n_targets), as
    soon as they are all in, in plan order. The chunks of all plans go to the workers in one map
    (grouped into tasks as for partial dependence), so the model and data are sent once and no
    worker waits between features.
    """
    numeric = {p.j: p.grid for p in plans if not p.categorical}  # (the values used are the edges)
    Xw = derive(widen_integer_columns, X, numeric) if numeric else X
    first = plans[0]
    m0 = first.size
    small, large = min(64, m0), min(512, m0)
    # The probes' rows alone (the same batches; a lean frame reads just them)
    head_rows, head_values = first.chunk(0, max(large, small + 1))
    head = take_rows(Xw, head_rows)

    def probe(k: int) -> Any:
        m = min(k, len(head_rows))
        return _predict_rows(estimator, head, response, first.j, np.arange(m), head_values[:m])

    try:
        bpr = measure_bytes_per_row(probe, small=small, large=max(large, small + 1)) if m0 > 1 else 64.0
    except InspectError:
        raise
    except Exception as exc:
        raise model_failed(exc) from exc
    progress.start(sum(p.size for p in plans), "accumulated local effects (predicting)")
    with execution.runner() as runner:
        chunking = plan_chunks(bpr, budget=execution.memory_budget, n_workers=runner.n_workers)
        if runner.backend == "dask":
            windows = _predict_windows(
                estimator, Xw, plans, response, runner, chunking.rows_per_chunk, progress
            )
            for i, pred in enumerate(windows):
                done(i, pred)
            return
        pieces = [(i, a, b) for i, p in enumerate(plans) for a, b in chunking.ranges(p.size)]
        group = runner.units_per_task(len(pieces))
        owned = [pieces[t : t + group] for t in range(0, len(pieces), group)]
        # (tasks name their chunks; each task forms its virtual rows from the shared plans)
        tasks = [([(i, a, b) for i, a, b in task],) for task in owned]
        preds: dict[int, np.ndarray] = {}
        left = [sum(1 for piece in pieces if piece[0] == i) for i in range(len(plans))]
        with blame_model():
            gen = runner.map(
                _predict_blocks,
                tasks,
                shared=(estimator, Xw, response, plans),
                progress=progress,
                weights=[sum(b - a for _, a, b in task) for task in owned],
            )
            for task, outs in zip(owned, gen):
                for (i, a, b), out in zip(task, outs):
                    if i not in preds:
                        preds[i] = np.empty((plans[i].size, out.shape[1]), dtype=out.dtype)
                    preds[i][a:b] = out
                    left[i] -= 1
                    if left[i] == 0:
                        done(i, preds.pop(i))


def _predict_blocks(
    estimator: Any, X: Any, response: Response, plans: list[_Plan], blocks: list[tuple[int, int, int]]
) -> list[np.ndarray]:
    """One task: ``_predict_rows`` for each (plan, start, stop) chunk of virtual rows, in order."""
    return [_predict_rows(estimator, X, response, plans[i].j, *plans[i].chunk(a, b)) for i, a, b in blocks]


def _predict_windows(
    estimator: Any,
    X: Any,
    plans: list[_Plan],
    response: Response,
    runner: Any,
    chunk_rows: int,
    progress: Progress,
) -> list[np.ndarray]:
    """``_predict_plans`` on Dask: one task per window of data rows, predicting the virtual rows of
    every plan whose data row lies in it (in chunks of ``chunk_rows``), so that a worker reading
    the data itself reads just its window (engines/worker_data.Window). Each prediction is put
    back at its virtual row: the same arrays as in one process."""
    from inspectcli.engines.parallel import TASKS_PER_WORKER
    from inspectcli.engines.worker_data import Window

    n = X.shape[0]
    # (numeric plans form their virtual rows per chunk in one process; here each window needs
    # the data rows of every plan, so they are formed once, two int64/float64 arrays per plan)
    virtual = [p.chunk(0, p.size) for p in plans]
    n_windows = max(1, min(n, TASKS_PER_WORKER * runner.n_workers))
    bounds = np.arange(n_windows + 1, dtype=np.int64) * n // n_windows
    out = [np.empty((p.size, response.n_targets)) for p in plans]
    by_row = []
    for rows, _ in virtual:
        order = np.argsort(rows, kind="stable")
        by_row.append((order, np.searchsorted(rows[order], bounds)))
    tasks, owners = [], []
    for w in range(n_windows):
        blocks, owned = [], []
        for i, (p, (rows, values), (order, cuts)) in enumerate(zip(plans, virtual, by_row)):
            idx = order[cuts[w] : cuts[w + 1]]
            for a in range(0, len(idx), chunk_rows):
                piece = idx[a : a + chunk_rows]
                blocks.append((p.j, rows[piece], values[piece]))
                owned.append((i, piece))
        if blocks:
            tasks.append((blocks, Window(int(bounds[w]), int(bounds[w + 1]))))
            owners.append(owned)
    with blame_model():
        gen = runner.map(
            _predict_window_blocks,
            tasks,
            shared=(estimator, X, response),
            progress=progress,
            weights=[sum(len(piece) for _, piece in owned) for owned in owners],
        )
        for owned, outs in zip(owners, gen):
            for (i, piece), pr in zip(owned, outs):
                out[i][piece] = pr
    return out


def _predict_window_blocks(
    estimator: Any,
    X: Any,
    response: Response,
    blocks: list[tuple[int, np.ndarray, np.ndarray]],
    window: Any = None,
) -> list[np.ndarray]:
    """One task: ``_predict_rows`` for each (feature, rows, values) block, in order; with a
    ``window`` (engines/worker_data.Window), the rows are data rows inside it."""
    if window is not None:
        X = window.of(X)
        blocks = [(j, rows - window.start, values) for j, rows, values in blocks]
    return [_predict_rows(estimator, X, response, j, rows, values) for j, rows, values in blocks]


def _add_pdp(
    estimator: Any,
    X: Any,
    results: list[ALEResult],
    names: list[str],
    response_method: str,
    classes: Sequence[str] | None,
    sample_weight: np.ndarray | None,
    execution: Execution,
) -> None:
    """Partial dependence (brute force, all rows) on each ALE grid, centred by the ALE's rule."""
    from inspectcli.engines.partial_dependence import partial_dependence

    pds = partial_dependence(
        estimator,
        X,
        [(r.feature_index,) for r in results],
        feature_names=names,
        sample_weight=sample_weight,
        categorical_features=[r.feature_index for r in results if r.categorical] or None,
        response_method=response_method,
        classes=classes,
        custom_values={r.feature_index: r.grid for r in results},
        method="brute",
        kind="average",
        execution=execution,
    )
    for r, pd_res in zip(results, pds):
        assert pd_res.average is not None
        weights = r.weights if r.weights is not None else r.counts
        r.pdp = center(np.asarray(pd_res.average, dtype=float), weights, r.categorical)
